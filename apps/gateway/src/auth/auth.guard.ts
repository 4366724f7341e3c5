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

/** Authenticates every non-public route and enforces its permissions (global guard). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(JwtVerifier) private readonly verifier: JwtVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['authorization'];
    const principal = await this.verifier.verify(Array.isArray(header) ? header[0] : header);
    request.principal = principal;
    const required = this.reflector.getAllAndOverride<Permission[]>(REQUIRED_PERMISSIONS, targets) ?? [];
    const missing = required.filter((permission) => !principal.perms.includes(permission));
    if (missing.length > 0) {
      throw new DomainError('permission_denied', 'AUTH.PERMISSION_DENIED', `Missing permission: ${missing.join(', ')}`, {
        details: { missing },
      });
    }
    return true;
  }
}
