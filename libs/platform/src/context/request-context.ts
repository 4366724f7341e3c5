import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What travels with one request: from the gateway's HTTP request through gRPC metadata and NATS headers. */
export interface RequestContext {
  requestId: string;
  /** Epoch ms by which the caller needs an answer; outgoing calls must not outlive it. */
  deadline?: number;
  /**
   * Aborts when the caller's deadline passes or the caller cancels: long work (a batch of
   * provider calls) stops with it instead of running for nobody.
   */
  signal?: AbortSignal;
  /**
   * The same event as {@link signal} for code that only needs to be told (the gRPC client), when
   * the context offers it: the gateway's does, and makes its AbortSignal only if `signal` is read.
   */
  abandonment?: Abandonment;
}

/**
 * A request's "the caller gave up", as cheap as a flag until something needs an AbortSignal:
 * making one per request (an EventTarget) and adding and removing a listener on it per gRPC call
 * was ~3 % of the gateway's CPU, for an event that almost never happens.
 */
export class Abandonment {
  private controller: AbortController | undefined;
  private listeners: Set<() => void> | undefined;
  private abandoned = false;

  get aborted(): boolean {
    return this.abandoned;
  }

  /** An AbortSignal of this event, made on first use (aborted at once if the caller is gone already). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abandoned) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** Runs `listener` once when the caller gives up (not at all if it has already: check `aborted`). */
  listen(listener: () => void): void {
    if (!this.abandoned) (this.listeners ??= new Set()).add(listener);
  }

  unlisten(listener: () => void): void {
    this.listeners?.delete(listener);
  }

  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.controller?.abort();
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }
}

/** The header / metadata key / NATS header that carries the request id across process boundaries. */
export const REQUEST_ID_HEADER = 'x-request-id';

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with `context` as the current request context (visible to every log line it writes). */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs `fn` outside any request: for work on behalf of something shared (a token pool's
 * reservations) that must not inherit one request's deadline, nor be cancelled with it.
 */
export function runOutsideRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Milliseconds left before the caller's deadline, capped by `fallbackMs`. */
export function remainingDeadlineMs(fallbackMs: number): number {
  return remainingDeadlineMsOf(storage.getStore(), fallbackMs);
}

/** Milliseconds left before `context`'s deadline (none: `fallbackMs`), capped by `fallbackMs`. */
export function remainingDeadlineMsOf(context: RequestContext | undefined, fallbackMs: number): number {
  const deadline = context?.deadline;
  return deadline === undefined ? fallbackMs : Math.max(0, Math.min(fallbackMs, deadline - Date.now()));
}

/** The current request's signal (see {@link RequestContext.signal}); undefined outside a request. */
export function currentRequestSignal(): AbortSignal | undefined {
  return storage.getStore()?.signal;
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's request id when it is a sane token, otherwise mints a new one. */
export function requestIdFrom(candidate: unknown): string {
  return typeof candidate === 'string' && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}
