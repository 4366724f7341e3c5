import { retry, type RetryPolicy } from '@batchgate/concurrency';
import type { UpstreamClient } from '@batchgate/platform/upstream';

/** What the webhook is told when a persona was created. */
export interface PersonaCreatedNotice {
  event: 'role.persona.created';
  requestId: string;
  tenantId: string;
  taskId: string;
  strategyId: string;
  roleId: string;
}

/**
 * The notification webhook. Each notice carries its idempotency key (the task's request id) on
 * every attempt, so a retry, or a redelivery after a crash, is one notification at the receiver.
 */
export class NotificationWebhookClient {
  private readonly retry: RetryPolicy;

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly path: string,
    maxAttempts: number,
  ) {
    this.retry = retry({ maxAttempts, backoff: { initialDelayMs: 200, maxDelayMs: 10_000 }, name: 'notification-webhook' });
  }

  /**
   * Resolves with the attempts it took once the receiver accepted the notice. While the receiver
   * is down (its breaker open, or 503 + Retry-After) the notice waits up to `options.waitWhileDownMs`
   * for it, rather than failing the task's run over and over.
   */
  async notify(
    notice: PersonaCreatedNotice,
    options: { signal?: AbortSignal; waitWhileDownMs?: number; stopWaiting?: AbortSignal } = {},
  ): Promise<number> {
    let attempts = 0;
    await this.upstream.run(
      () =>
        this.retry.execute(({ signal }) => {
          attempts++;
          return this.upstream.request({
            operation: 'notify',
            method: 'POST',
            path: this.path,
            json: notice,
            idempotencyKey: notice.requestId,
            signal,
          });
        }, options.signal),
      options,
    );
    return attempts;
  }
}
