import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { DomainError } from '@batchgate/platform/errors';
import { JwtVerifier } from './jwt-verifier';
import type { Permission, Principal } from './principal';

const PUBLIC_ROUTE = 'auth:public';
const REQUIRED_PERMISSIONS = 'auth:permissions';

/** Marks a route that needs no token (health, docs). Every other route requires one. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The caller's token must carry every listed permission in its `perms` claim. */
export const RequirePermissions = (...permissions: Permission[]) =>
  applyDecorators(
    SetMetadata(REQUIRED_PERMISSIONS, permissions),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'Missing, invalid or expired bearer token' }),
    ApiForbiddenResponse({ description: `Token lacks a permission: ${permissions.join(', ')}` }),
  );

export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
}

/** What a route asks of its caller, from its decorators (set when the classes are defined). */
interface RouteAuth {
  isPublic: boolean;
  required: readonly Permission[];
}

/**
 * Authenticates every non-public route and enforces its permissions (global guard).
 *
 * Synchronous when the caller's token was verified before (the verifier's cache): Nest awaits a
 * guard only when it answers a promise, and an `async` guard put two promises and their ticks on
 * every request. Each route's decorators are read once (per handler and class), not on every request.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly routes = new WeakMap<object, WeakMap<object, RouteAuth>>();

  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(JwtVerifier) private readonly verifier: JwtVerifier,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routeAuth(context);
    if (route.isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['authorization'];
    const authorization = Array.isArray(header) ? header[0] : header;
    const known = this.verifier.knownPrincipal(authorization);
    if (known) return admit(request, known, route.required);
    return this.verifier.verify(authorization).then((principal) => admit(request, principal, route.required));
  }

  private routeAuth(context: ExecutionContext): RouteAuth {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byController = this.routes.get(handler);
    if (!byController) this.routes.set(handler, (byController = new WeakMap()));
    let route = byController.get(controller);
    if (!route) {
      const targets = [handler, controller];
      route = {
        isPublic: this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) ?? false,
        required: this.reflector.getAllAndOverride<Permission[]>(REQUIRED_PERMISSIONS, targets) ?? [],
      };
      byController.set(controller, route);
    }
    return route;
  }
}

function admit(request: AuthenticatedRequest, principal: Principal, required: readonly Permission[]): true {
  request.principal = principal;
  const missing = required.filter((permission) => !principal.perms.includes(permission));
  if (missing.length > 0) {
    throw new DomainError('permission_denied', 'AUTH.PERMISSION_DENIED', `Missing permission: ${missing.join(', ')}`, {
      details: { missing },
    });
  }
  return true;
}
