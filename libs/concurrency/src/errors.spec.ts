import {
  AuthError,
  BrokenCircuitError,
  CancelledError,
  DeadlineExceededError,
  PermanentError,
  QuotaExhaustedError,
  RateLimitedError,
  RetryBudgetExceededError,
  TimeoutError,
  TransientError,
  classifyError,
  classifyHttpStatus,
  parseRetryAfter,
} from './errors';

const NOW = Date.parse('2025-03-01T12:00:00Z');

function httpError(status: number, headers?: unknown): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, headers });
}

function netError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('parseRetryAfter', () => {
  it('reads delta-seconds, fractional seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 1.5 ', NOW)).toBe(1_500);
    expect(parseRetryAfter(3, NOW)).toBe(3_000);
    expect(parseRetryAfter(['7'], NOW)).toBe(7_000);
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', NOW)).toBe(30_000);
    // A date in the past means "now".
    expect(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores missing and malformed values', () => {
    for (const value of [undefined, null, '', 'soon', '-5', -1, Number.NaN, {}]) {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    }
  });
});

describe('classifyHttpStatus', () => {
  it.each([
    [408, 'timeout'],
    [429, 'rate-limited'],
    [401, 'auth'],
    [403, 'auth'],
    [402, 'quota'],
    [400, 'permanent'],
    [404, 'permanent'],
    [422, 'permanent'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [501, 'permanent'],
    [200, undefined],
  ])('%i → %s', (status, kind) => {
    expect(classifyHttpStatus(status)).toBe(kind);
  });
});

describe('classifyError', () => {
  it('gives the library errors their own kind', () => {
    expect(classifyError(new TimeoutError(5), NOW)).toEqual({ kind: 'timeout' });
    expect(classifyError(new BrokenCircuitError('b', 10), NOW)).toEqual({ kind: 'circuit-open' });
    expect(classifyError(new CancelledError(), NOW)).toEqual({ kind: 'cancelled' });
    expect(classifyError(new DeadlineExceededError(100), NOW)).toEqual({ kind: 'cancelled' });
    expect(classifyError(new TransientError(), NOW)).toEqual({ kind: 'transient' });
    expect(classifyError(new PermanentError(), NOW)).toEqual({ kind: 'permanent' });
    expect(classifyError(new AuthError(), NOW)).toEqual({ kind: 'auth' });
    expect(classifyError(new QuotaExhaustedError(), NOW)).toEqual({ kind: 'quota' });
    expect(classifyError(new RateLimitedError(2_500), NOW)).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 2_500,
    });
    expect(classifyError(new RateLimitedError(), NOW)).toEqual({ kind: 'rate-limited' });
    // A budget refusal is classified by the error that was not retried.
    expect(classifyError(new RetryBudgetExceededError(new AuthError()), NOW)).toEqual({
      kind: 'auth',
    });
  });

  it('reads HTTP status and Retry-After from common error shapes', () => {
    expect(classifyError(httpError(429, { 'Retry-After': '2' }), NOW)).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 2_000,
    });
    expect(
      classifyError(
        httpError(429, new Headers({ 'retry-after': 'Sat, 01 Mar 2025 12:01:00 GMT' })),
        NOW,
      ),
    ).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 60_000,
    });
    expect(classifyError(httpError(429), NOW)).toEqual({ kind: 'rate-limited' });
    // axios-style: error.response.status / error.response.headers
    const axiosLike = Object.assign(new Error('Request failed'), {
      response: { status: 429, headers: { 'retry-after': '4' } },
    });
    expect(classifyError(axiosLike, NOW)).toEqual({ kind: 'rate-limited', retryAfterMs: 4_000 });
    // statusCode (Nest HttpException, got) as a string too
    expect(classifyError({ statusCode: '502' }, NOW)).toEqual({ kind: 'transient' });
    // 503 with Retry-After is a request to back off; without, a transient failure.
    expect(classifyError(httpError(503, { 'retry-after': '10' }), NOW)).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 10_000,
    });
    expect(classifyError(httpError(503), NOW)).toEqual({ kind: 'transient' });
    expect(classifyError(httpError(404), NOW)).toEqual({ kind: 'permanent' });
    expect(classifyError(httpError(401), NOW)).toEqual({ kind: 'auth' });
    expect(classifyError(httpError(408), NOW)).toEqual({ kind: 'timeout' });
    expect(classifyError({ status: 429, retryAfterMs: 750 }, NOW)).toEqual({
      kind: 'rate-limited',
      retryAfterMs: 750,
    });
  });

  it.each([
    ['ECONNRESET', 'transient'],
    ['ECONNREFUSED', 'transient'],
    ['EPIPE', 'transient'],
    ['EAI_AGAIN', 'transient'],
    ['ETIMEDOUT', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_SOCKET', 'transient'],
    ['UND_ERR_CLOSED', 'transient'],
    ['UND_ERR_ABORTED', 'cancelled'],
    ['UND_ERR_INVALID_ARG', 'permanent'],
    ['ENOTFOUND', 'permanent'],
  ])('Node/undici code %s → %s', (code, kind) => {
    expect(classifyError(netError(code), NOW).kind).toBe(kind);
  });

  it('looks through `cause` (fetch wraps network errors in a TypeError)', () => {
    const fetchError = new TypeError('fetch failed', { cause: netError('ECONNRESET') });
    expect(classifyError(fetchError, NOW)).toEqual({ kind: 'transient' });
    const timedOut = new TypeError('fetch failed', { cause: netError('UND_ERR_CONNECT_TIMEOUT') });
    expect(classifyError(timedOut, NOW)).toEqual({ kind: 'timeout' });
  });

  it('maps abort errors and AbortSignal.timeout errors', () => {
    const abort = new DOMException('This operation was aborted', 'AbortError');
    expect(classifyError(abort, NOW)).toEqual({ kind: 'cancelled' });
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyError(timeout, NOW)).toEqual({ kind: 'timeout' });
  });

  it('treats anything else as transient', () => {
    expect(classifyError(new Error('boom'), NOW)).toEqual({ kind: 'transient' });
    expect(classifyError('a string', NOW)).toEqual({ kind: 'transient' });
    expect(classifyError(undefined, NOW)).toEqual({ kind: 'transient' });
  });

  it('gives errors stable codes and names', () => {
    const e = new TimeoutError(250);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('TimeoutError');
    expect(e.code).toBe('TIMEOUT');
    expect(e.timeoutMs).toBe(250);
    const d = new DeadlineExceededError(9);
    expect(d).toBeInstanceOf(CancelledError);
    expect(d.code).toBe('DEADLINE_EXCEEDED');
    const cause = new Error('root');
    expect(new RetryBudgetExceededError(cause).cause).toBe(cause);
  });
});
