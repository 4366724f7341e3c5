import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { DomainError } from '@batchgate/platform/errors';
import type { AuthenticatedRequest } from './auth.guard';
import type { Principal } from './principal';

/**
 * Per-user request limit (SPEC §2.5): each tenant's user may make USER_RATE_LIMIT requests per
 * USER_RATE_WINDOW_MS across all routes; beyond that the answer is 429 with Retry-After. Runs
 * after the AuthGuard, so it counts authenticated callers by their verified identity (a client
 * cannot spend somebody else's allowance); public routes (health, docs) are not counted.
 * The counts live in this gateway process: N gateway replicas allow up to N times the limit.
 */
@Injectable()
export class UserRateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return !context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const principal = request['principal'] as Principal | undefined;
    return `${principal?.tenant ?? ''}/${principal?.sub ?? ''}`;
  }

  /** One allowance per user for the whole API, not one per route. */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `${throttler}:${tracker}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, limit: ThrottlerLimitDetail): Promise<void> {
    throw new DomainError('resource_exhausted', 'GATEWAY.RATE_LIMITED', `Too many requests: at most ${limit.limit} per ${limit.ttl / 1_000} s`, {
      details: { limit: limit.limit, windowSeconds: limit.ttl / 1_000 },
      retryAfterSeconds: Math.max(1, limit.timeToBlockExpire),
    });
  }
}
