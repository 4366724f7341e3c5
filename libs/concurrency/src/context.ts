import { setMaxListeners } from 'node:events';
import { type Clock, systemClock } from './clock';

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

/** `abortReason` of a scope that has not aborted (a reason may itself be `undefined`). */
const NOT_ABORTED: unknown = Symbol('not aborted');

/**
 * The cancellation tree under every call (internal).
 *
 * Scopes are cheap objects that stand in for `AbortController`s, which cost microseconds each in
 * Node: an `AbortController` is only created when a call reads `ctx.signal`. Three kinds:
 * - a plain `Scope` (a retry attempt) only changes `attempt` and shares its host's abort state;
 * - a {@link HostScope} has abort state of its own and hosts linked children: a root (an
 *   `execute` call, following the caller's signal if there is one) or a batch item;
 * - an {@link OwnScope} is a host linked into its parent host's intrusive child list (a timeout
 *   attempt, a waiter), so aborting the parent reaches it in O(children) without any
 *   `addEventListener`, and it unlinks itself (`dispose`) when done.
 *
 * The only DOM listener ever added is one per root on a caller's `AbortSignal`, added when
 * something links under the root and removed by `dispose()`, so long-lived signals do not collect
 * listeners.
 *
 * @internal
 */
export class Scope implements ItemContext {
  // Scopes are allocated per call on the hot path. Their fields are declared without initialisers
  // and assigned in the constructors: class-field initialisers ([[Define]] semantics, one
  // initialiser function per class) cost measurably more per object, and redefining an inherited
  // field would push every scope onto V8's slow property path.
  /** Nearest scope with abort state of its own (itself for a {@link HostScope}). */
  declare readonly host: HostScope;
  /** Scope that records the number of attempts (a batch item, or the root of an `execute`). */
  declare readonly top: Scope;
  declare attempt: number;
  declare index: number;
  /** Highest attempt started; meaningful on `top`. */
  declare attempts: number;

  /**
   * @param host the host whose abort state this scope shares; `undefined` for a host itself
   * @param top where attempts are counted; `undefined` to count them on this scope
   */
  constructor(host: HostScope | undefined, top: Scope | undefined, attempt: number, index: number) {
    this.host = host ?? (this as unknown as HostScope);
    this.top = top ?? this;
    this.attempt = attempt;
    this.index = index;
    this.attempts = 1;
  }

  /** A root scope, optionally following a caller's signal. */
  static root(signal?: AbortSignal, top?: Scope): HostScope {
    return signal ? new RootScope(signal, top) : new HostScope(top, 1, -1);
  }

  /** Wraps a foreign {@link CallContext} (not made by this library) in a root scope. */
  static from(ctx: CallContext | undefined): Scope {
    if (ctx instanceof Scope) return ctx;
    const scope = Scope.root(ctx?.signal);
    if (ctx) scope.attempt = ctx.attempt;
    return scope;
  }

  /** Attempt `attempt` of a call running in `parent` (shares its abort state). */
  static forAttempt(parent: Scope, attempt: number): Scope {
    return new Scope(parent.host, parent.top, attempt, parent.index);
  }

  get signal(): AbortSignal {
    return this.host.materialize();
  }

  get aborted(): boolean {
    return this.host.abortReason !== NOT_ABORTED;
  }

  get reason(): unknown {
    const reason = this.host.abortReason;
    return reason === NOT_ABORTED ? undefined : reason;
  }

  /** Records that attempt `n` started (used by the retry policy). */
  recordAttempt(n: number): void {
    if (this.top.attempts < n) this.top.attempts = n;
  }
}

/** A scope with abort state of its own that hosts linked children (a root, a batch item). @internal */
export class HostScope extends Scope {
  /** Why it aborted; `NOT_ABORTED` until then. */
  declare abortReason: unknown;
  declare private ctrl: AbortController | undefined;
  declare private firstChild: OwnScope | undefined;

  constructor(top: Scope | undefined, attempt: number, index: number) {
    super(undefined, top, attempt, index);
    this.abortReason = NOT_ABORTED;
    this.ctrl = undefined;
    this.firstChild = undefined;
  }

  /** Aborts this scope and every descendant. */
  abort(reason: unknown): void {
    if (this.abortReason !== NOT_ABORTED) return;
    this.abortReason = reason;
    this.handleAbort(reason);
    if (this.ctrl) this.ctrl.abort(reason);
    // Snapshot: aborting a child runs callbacks that may unlink other children.
    if (this.firstChild) for (const child of this.children()) child.abort(reason);
  }

  /** Reacts to this scope's abort (before its signal and children abort). */
  protected handleAbort(_reason: unknown): void {
    // Nothing by default.
  }

  /** Releases what the scope holds (a root's listener on the caller's signal, a child's link). */
  dispose(): void {
    // A plain host holds nothing.
  }

  /** The scopes linked under this one, most recent first (a snapshot). */
  children(): OwnScope[] {
    const list: OwnScope[] = [];
    for (let c = this.firstChild; c; c = c.nextSibling) list.push(c);
    return list;
  }

  /** The scope's `AbortSignal`, created on first use. */
  materialize(): AbortSignal {
    if (this.ctrl) return this.ctrl.signal;
    const ctrl = new AbortController();
    // One signal may be shared by many concurrent calls (a batch's), each adding a listener.
    setMaxListeners(0, ctrl.signal);
    this.ctrl = ctrl;
    if (this.abortReason !== NOT_ABORTED) ctrl.abort(this.abortReason);
    return ctrl.signal;
  }

  linkChild(child: OwnScope): void {
    child.linkedTo = this;
    child.prevSibling = undefined;
    child.nextSibling = this.firstChild;
    if (this.firstChild) this.firstChild.prevSibling = child;
    this.firstChild = child;
  }

  unlinkChild(child: OwnScope): void {
    if (child.linkedTo !== this) return;
    child.linkedTo = undefined;
    if (child.prevSibling) child.prevSibling.nextSibling = child.nextSibling;
    else this.firstChild = child.nextSibling;
    if (child.nextSibling) child.nextSibling.prevSibling = child.prevSibling;
    child.prevSibling = undefined;
    child.nextSibling = undefined;
  }
}

/**
 * A host linked under its parent's host while it lives (a timeout attempt, a waiter): aborting the
 * parent aborts it. Created aborted when the parent already is. @internal
 */
export class OwnScope extends HostScope {
  /** The host it is linked under; `undefined` once disposed (or if born aborted). */
  declare linkedTo: HostScope | undefined;
  declare prevSibling: OwnScope | undefined;
  declare nextSibling: OwnScope | undefined;

  constructor(parent: Scope) {
    super(parent.top, parent.attempt, parent.index);
    this.linkedTo = undefined;
    this.prevSibling = undefined;
    this.nextSibling = undefined;
    const host = parent.host;
    if (host.abortReason !== NOT_ABORTED) this.abortReason = host.abortReason;
    else host.linkChild(this);
  }

  /** Detaches this scope from its parent. Idempotent. */
  override dispose(): void {
    if (this.linkedTo) this.linkedTo.unlinkChild(this);
  }
}

/** An {@link OwnScope} that calls `onAbort` once when it aborts (a sleep, a queued waiter). @internal */
export class AbortWatcher extends OwnScope {
  declare onAbort: ((reason: unknown) => void) | undefined;

  constructor(parent: Scope) {
    super(parent);
    this.onAbort = undefined;
  }

  protected override handleAbort(reason: unknown): void {
    const onAbort = this.onAbort;
    this.onAbort = undefined;
    if (onAbort) onAbort(reason);
  }
}

/**
 * A root that follows a caller's `AbortSignal`. The one DOM listener is added when the first
 * child links (something actually waits or runs under it) and removed by `dispose()`.
 * @internal
 */
class RootScope extends HostScope {
  declare private readonly external: AbortSignal;
  declare private listener: (() => void) | undefined;

  constructor(external: AbortSignal, top: Scope | undefined) {
    super(top, 1, -1);
    this.external = external;
    this.listener = undefined;
    if (external.aborted) this.abortReason = external.reason;
  }

  override materialize(): AbortSignal {
    // Nothing but the caller's signal can abort a root, so hand that signal out as it is.
    return this.external;
  }

  override linkChild(child: OwnScope): void {
    super.linkChild(child);
    if (!this.listener && !this.aborted) {
      const external = this.external;
      this.listener = () => this.abort(external.reason);
      external.addEventListener('abort', this.listener, { once: true });
    }
  }

  override dispose(): void {
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
    const watcher = new AbortWatcher(scope);
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
