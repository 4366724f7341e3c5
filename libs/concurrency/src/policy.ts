import { type CallContext, Scope } from './context';

/** A call as policies see it: gets a context, returns a value or a promise. */
export type Call<R> = (ctx: CallContext) => R | PromiseLike<R>;

/**
 * A resilience policy (timeout, retry, circuit breaker, rate limiter, or a composition of them).
 *
 * ```ts
 * const policy = composePolicies(retry({ maxAttempts: 3 }), breaker, timeout(5_000));
 * const quote = await policy.execute(({ signal }) => fetchQuote(code, { signal }), request.signal);
 * ```
 */
export interface Policy {
  /**
   * Runs `fn` under the policy. `signal` (optional) cancels the whole execution: waits (backoff,
   * rate limit) stop at once and the call's own `ctx.signal` aborts.
   */
  execute<R>(fn: Call<R>, signal?: AbortSignal): Promise<Awaited<R>>;
}

/**
 * Parent of calls made without a signal: nothing ever aborts it, so one instance serves them all
 * (children link into it only while they run).
 */
const UNCANCELLABLE = Scope.root();

/**
 * Base of the library's policies. `_run` is the fast internal entry point that composed policies
 * and the batch runner use; it passes the cancellation scope along instead of creating
 * `AbortController`s.
 */
export abstract class BasePolicy implements Policy {
  execute<R>(fn: Call<R>, signal?: AbortSignal): Promise<Awaited<R>> {
    if (!signal) return this._run(fn, UNCANCELLABLE);
    const root = Scope.root(signal);
    return this._run(fn, root).finally(() => root.dispose());
  }

  /** @internal Runs `fn` in the given context (a scope created by this library). */
  abstract _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>>;
}

/** Runs any {@link Policy}, using the fast path for the library's own. @internal */
export function runPolicy<R>(policy: Policy, fn: Call<R>, ctx: Scope): Promise<Awaited<R>> {
  if (policy instanceof BasePolicy) return policy._run(fn, ctx);
  // A foreign policy only knows `execute(fn, signal)`: give it the scope's signal, and run the
  // inner call in a scope that follows the signal the foreign policy hands down.
  return policy.execute((inner) => {
    // The same `top` keeps the attempt count and the batch item reachable from the inner call.
    const scope = Scope.root(inner.signal, ctx.top);
    // A foreign retry counts its own attempts; never report fewer than ours.
    scope.attempt = Math.max(ctx.attempt, Number(inner.attempt) || 0);
    scope.index = ctx.index;
    ctx.recordAttempt(scope.attempt);
    let result: R | PromiseLike<R>;
    try {
      result = fn(scope);
    } catch (error) {
      scope.dispose();
      throw error;
    }
    return Promise.resolve(result).finally(() => scope.dispose());
  }, ctx.signal);
}

class ComposedPolicy extends BasePolicy {
  constructor(private readonly policies: readonly Policy[]) {
    super();
  }

  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    return this.runFrom(0, fn, Scope.from(ctx));
  }

  private runFrom<R>(i: number, fn: Call<R>, ctx: Scope): Promise<Awaited<R>> {
    if (i === this.policies.length - 1) return runPolicy(this.policies[i], fn, ctx);
    return runPolicy(
      this.policies[i],
      (inner) => this.runFrom(i + 1, fn, Scope.from(inner)),
      ctx,
    ) as Promise<Awaited<R>>;
  }
}

class NoopPolicy extends BasePolicy {
  _run<R>(fn: Call<R>, ctx: CallContext): Promise<Awaited<R>> {
    try {
      return Promise.resolve(fn(ctx)) as Promise<Awaited<R>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** A policy that just runs the call. */
export const noopPolicy: Policy = new NoopPolicy();

/**
 * Composes policies, outermost first: `composePolicies(retry, breaker, timeout)` retries calls
 * that the breaker lets through, each attempt with its own timeout. The usual order for an
 * outside API is `retry → circuit breaker → rate limiter → timeout`.
 */
export function composePolicies(...policies: Policy[]): Policy {
  const flat = policies.filter((p) => p !== noopPolicy);
  if (flat.length === 0) return noopPolicy;
  if (flat.length === 1) return flat[0];
  return new ComposedPolicy(flat);
}
