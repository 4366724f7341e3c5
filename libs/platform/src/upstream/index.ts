/**
 * Outside systems over HTTP — the one way a service calls them (the market-data provider, the
 * marketplace, the publishing platform, an LLM, a webhook). Per outside system, one
 * {@link UpstreamClient}:
 *
 * ```ts
 * // config: ...upstreamEnv('MARKETPLACE', { baseUrl: 'http://127.0.0.1:4100', timeoutMs: 10_000 })
 * const marketplace = new UpstreamClient({ name: 'marketplace', ...upstreamOptions(config, 'MARKETPLACE'), registry });
 * const { body } = await marketplace.request<InvokeAnswer>({
 *   operation: 'invoke-tool', method: 'POST', path: `/marketplace/tools/${toolId}/invoke`,
 *   json: { parentMsgId, productId },
 *   idempotencyKey: `offline:${taskId}:${productId}`, // an effect: the same key on every retry
 *   signal: item.signal,
 * });
 * ```
 *
 * What it does for every request:
 * - one undici `Pool` of keep-alive connections to the base URL (configuration, so a build talks to
 *   upstream-sim or to the real system);
 * - a per-request timeout that aborts the request, shortened to the caller's deadline (the request
 *   context), and the caller's cancellation (`signal`, and the request context's signal);
 * - HTTP statuses and network errors thrown as the engine's error classes (`TransientError`,
 *   `RateLimitedError` with the upstream's `Retry-After`, `AuthError`, …), so the engine's retry
 *   policy, token pool and breakers know what to do; the answer is on the error
 *   ({@link upstreamResponseOf}) for an API whose error bodies say more;
 * - a circuit breaker per upstream: failures (no answer, timeouts, 5xx) open it, and a `503` with
 *   `Retry-After` pauses the whole upstream until then; calls are refused while it is open;
 * - RED metrics: `upstream_requests_total` / `upstream_request_duration_seconds` by upstream,
 *   operation, status and outcome.
 *
 * Work that spends something before its request (a credential's quota, a rate slot) runs inside
 * {@link UpstreamClient.run}, so an open breaker refuses it before anything is spent;
 * `waitWhileDownMs` makes durable work wait out an outage instead of failing.
 */
export * from './upstream-client';
export * from './upstream-env';
