import { setMaxListeners } from 'node:events';
import type { Clock } from './clock';
import { systemClock } from './clock';

/** What a call receives: pass `signal` to the outside API (fetch, HTTP client, DB driver). */
export interface CallContext {
  /**
   * Aborted when the call should stop: its timeout fired, the batch was cancelled or hit its
   * deadline, or the caller's signal aborted. Created on first access, so calls that never read it
   * cost nothing.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
}

/** What a batch item's function receives. */
export interface ItemContext extends CallContext {
  /** Position of the item in the input (0-based). */
  readonly index: number;
}

/**
 * The cancellation tree under every call (internal).
 *
 * Scopes are cheap objects that stand in for `AbortController`s, which cost microseconds each in
 * Node: an `AbortController` is only created when a call reads `ctx.signal`. An {@link OwnScope}
 * carries its own abort state (a batch, a timeout attempt, a sleeping retry) and is linked into
 * its parent's intrusive child list, so aborting a parent reaches it in O(children) without any
 * `addEventListener`. A plain `Scope` only changes `attempt`/`index` and shares its host's abort
 * state (a batch item, a retry attempt). The only DOM listener ever added is one per root on a
 * caller's `AbortSignal`, and it is removed when the root is disposed, so long-lived signals do
 * not collect listeners.
 *
 * @internal
 */
export class Scope implements ItemContext {
  // Scopes are allocated per call on the hot path. Their fields are declared without initialisers
  // and assigned in the constructors: class-field initialisers ([[Define]] semantics, one
  // initialiser function per class) cost measurably more per object, and redefining an inherited
  // field would push every scope onto V8's slow property path.
  declare readonly parent: Scope | undefined;
  /** Nearest scope with its own abort state. */
  declare readonly host: OwnScope;
  /** Scope that records the number of attempts (an item, or an `execute` call). */
  declare readonly top: Scope;
  declare attempt: number;
  declare index: number;
  /** Highest attempt started; meaningful on `top`. */
  declare attempts: number;

  /**
   * @param parent enclosing scope (undefined only for an {@link OwnScope} root)
   * @param isTop whether attempts are counted on this scope
   * @param own set by {@link OwnScope} only
   * @param top the scope attempts are counted on, when it is not implied by `parent`/`isTop`
   */
  constructor(
    parent: Scope | undefined,
    isTop: boolean,
    attempt?: number,
    index?: number,
    own = false,
    top?: Scope,
  ) {
    this.parent = parent;
    this.host = own || !parent ? (this as unknown as OwnScope) : parent.host;
    this.top = top ?? (isTop || !parent ? this : parent.top);
    this.attempt = attempt ?? (parent ? parent.attempt : 1);
    this.index = index ?? (parent ? parent.index : -1);
    this.attempts = 1;
  }

  /** A root scope, optionally following a caller's signal. */
  static root(signal?: AbortSignal, top?: Scope): OwnScope {
    return signal
      ? new RootScope(signal, top)
      : new OwnScope(undefined, true, undefined, undefined, top);
  }

  /** Wraps a foreign {@link CallContext} (not made by this library) in a root scope. */
  static from(ctx: CallContext | undefined): Scope {
    if (ctx instanceof Scope) return ctx;
    const scope = Scope.root(ctx?.signal);
    if (ctx) scope.attempt = ctx.attempt;
    return scope;
  }

  get signal(): AbortSignal {
    return this.host.materialize();
  }

  get aborted(): boolean {
    return this.host.isAborted;
  }

  get reason(): unknown {
    return this.host.abortReason;
  }

  /** Records that attempt `n` started (used by the retry policy). */
  recordAttempt(n: number): void {
    if (this.top.attempts < n) this.top.attempts = n;
  }
}

/**
 * A scope with its own abort state, linked under its parent's host. @internal
 */
export class OwnScope extends Scope {
  declare isAborted: boolean;
  declare abortReason: unknown;
  /** Called once when this scope aborts. */
  declare onAbort: ((reason: unknown) => void) | undefined;
  declare private ctrl: AbortController | undefined;
  declare private firstChild: OwnScope | undefined;
  declare private prevSibling: OwnScope | undefined;
  declare private nextSibling: OwnScope | undefined;
  declare private linked: boolean;

  constructor(
    parent: Scope | undefined,
    isTop: boolean,
    attempt?: number,
    index?: number,
    top?: Scope,
  ) {
    super(parent, isTop, attempt, index, true, top);
    this.isAborted = false;
    this.abortReason = undefined;
    this.onAbort = undefined;
    this.ctrl = undefined;
    this.firstChild = undefined;
    this.prevSibling = undefined;
    this.nextSibling = undefined;
    this.linked = false;
    if (parent) {
      const host = parent.host;
      if (host.isAborted) {
        this.isAborted = true;
        this.abortReason = host.abortReason;
      } else {
        host.linkChild(this);
      }
    }
  }

  /** Aborts this scope and every descendant. */
  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.handleAbort(reason);
    if (this.ctrl) this.ctrl.abort(reason);
    // Snapshot: aborting a child runs callbacks that may unlink other children.
    if (this.firstChild) for (const child of this.children()) child.abort(reason);
  }

  /** Reacts to this scope's abort (before its signal and children abort). */
  protected handleAbort(reason: unknown): void {
    const onAbort = this.onAbort;
    this.onAbort = undefined;
    if (onAbort) onAbort(reason);
  }

  /** Detaches this scope from its parent. Idempotent. */
  dispose(): void {
    if (this.linked && this.parent) this.parent.host.unlinkChild(this);
  }

  /** Whether this scope is linked under its parent (it is until disposed). */
  get attached(): boolean {
    return this.linked;
  }

  /** The scopes linked under this one, most recent first (a snapshot). */
  children(): OwnScope[] {
    const list: OwnScope[] = [];
    for (let c = this.firstChild; c; c = c.nextSibling) list.push(c);
    return list;
  }

  /** @internal */
  materialize(): AbortSignal {
    if (this.ctrl) return this.ctrl.signal;
    const ctrl = new AbortController();
    // One signal may be shared by many concurrent calls (a batch's), each adding a listener.
    setMaxListeners(0, ctrl.signal);
    this.ctrl = ctrl;
    if (this.isAborted) ctrl.abort(this.abortReason);
    return ctrl.signal;
  }

  /** @internal */
  linkChild(child: OwnScope): void {
    child.linked = true;
    child.prevSibling = undefined;
    child.nextSibling = this.firstChild;
    if (this.firstChild) this.firstChild.prevSibling = child;
    this.firstChild = child;
  }

  private unlinkChild(child: OwnScope): void {
    if (!child.linked) return;
    child.linked = false;
    if (child.prevSibling) child.prevSibling.nextSibling = child.nextSibling;
    else this.firstChild = child.nextSibling;
    if (child.nextSibling) child.nextSibling.prevSibling = child.prevSibling;
    child.prevSibling = undefined;
    child.nextSibling = undefined;
  }
}

/**
 * A root that follows a caller's `AbortSignal`. The one DOM listener is added when the first
 * child links (something actually waits or runs under it) and removed by `dispose()`.
 * @internal
 */
class RootScope extends OwnScope {
  private listener: (() => void) | undefined = undefined;

  constructor(
    private readonly external: AbortSignal,
    top?: Scope,
  ) {
    super(undefined, true, undefined, undefined, top);
    if (external.aborted) {
      this.isAborted = true;
      this.abortReason = external.reason;
    }
  }

  override materialize(): AbortSignal {
    // Nothing but the caller's signal can abort a root, so hand that signal out as it is.
    return this.external;
  }

  override linkChild(child: OwnScope): void {
    super.linkChild(child);
    if (!this.listener && !this.isAborted) {
      const external = this.external;
      this.listener = () => this.abort(external.reason);
      external.addEventListener('abort', this.listener, { once: true });
    }
  }

  override dispose(): void {
    super.dispose();
    if (this.listener) {
      this.external.removeEventListener('abort', this.listener);
      this.listener = undefined;
    }
  }
}

/**
 * Waits `ms` on `clock`; rejects with the scope's abort reason as soon as the scope aborts.
 * @internal
 */
export function sleepIn(clock: Clock, ms: number, scope: Scope): Promise<void> {
  if (scope.aborted) return Promise.reject(scope.reason);
  return new Promise<void>((resolve, reject) => {
    const watcher = new OwnScope(scope, false);
    const handle = clock.setTimeout(
      () => {
        watcher.onAbort = undefined;
        watcher.dispose();
        resolve();
      },
      Math.max(0, ms),
    );
    watcher.onAbort = (reason) => {
      clock.clearTimeout(handle);
      watcher.dispose();
      reject(reason);
    };
  });
}

/**
 * Waits `ms` milliseconds on `clock` (default {@link systemClock}); rejects with the signal's
 * reason if `signal` aborts first.
 */
export async function sleep(
  ms: number,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<void> {
  const root = Scope.root(options.signal);
  try {
    await sleepIn(options.clock ?? systemClock, ms, root);
  } finally {
    root.dispose();
  }
}

/** True for values with a callable `then` (promises and promise-likes). @internal */
export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
