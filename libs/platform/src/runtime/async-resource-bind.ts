import { AsyncResource } from 'node:async_hooks';

type Bind = (this: AsyncResource, fn: (...args: never[]) => unknown, thisArg?: unknown) => (...args: unknown[]) => unknown;

const RESOURCE = Symbol('asyncResource');
const DEPRECATION = 'The asyncResource property on bound functions is deprecated';
let warned = false;
function warnOnce(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(DEPRECATION, { type: 'DeprecationWarning', code: 'DEP0172' }); // honours --no-deprecation
}

/** The deprecated `asyncResource` accessors, shared by every bound function instead of made for each. */
const asyncResourceProperty: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: { [RESOURCE]: AsyncResource }) {
    warnOnce();
    return this[RESOURCE];
  },
  set(this: { [RESOURCE]: AsyncResource }, resource: AsyncResource) {
    warnOnce();
    this[RESOURCE] = resource;
  },
};

/** Whether this Node's `bind` makes its accessors with `util.deprecate`, which sets the prototype of each. */
function bindSetsPrototypes(): boolean {
  const getter = Object.getOwnPropertyDescriptor(new AsyncResource('bind-probe').bind(() => undefined), 'asyncResource')?.get;
  return getter !== undefined && Object.getPrototypeOf(getter) !== Function.prototype;
}

/**
 * Makes `AsyncResource.prototype.bind` cheap on the Node versions where it is not.
 *
 * Node 20's `bind` gives every bound function the deprecated `asyncResource` getter and setter
 * (DEP0172), each made afresh by `util.deprecate`, which calls `Object.setPrototypeOf` on it: about
 * 12 µs a call on the bench's VM, where a plain bind is well under 1 µs (nodejs/node#58218; Node
 * 24 stopped setting the prototype, and Node's main branch dropped the property). Node's HTTP/2
 * client binds once per request, so every gRPC call a process makes pays it, and Fastify binds
 * once per request with a body. Its own frames were 3 % of the gateway's profile; without it the
 * gateway spent 14 % less CPU per read by id (bench/gateway/README.md, section 43), likely because
 * a prototype set per request also invalidates V8's inline caches.
 *
 * The replacement binds as Node does (the function runs in the resource's async scope, with the
 * caller's `this` unless a `thisArg` is given, and keeps its `length`) and keeps the deprecated
 * property, with one shared getter and setter that warn once as Node's do. Written by hand: it is
 * a fix of Node itself, which no package provides. It installs only where `bind` sets the
 * prototypes, so a Node that no longer does keeps its own; a second call changes nothing.
 */
export function installFastAsyncResourceBind(): void {
  const prototype = AsyncResource.prototype as unknown as { bind: Bind };
  if (!bindSetsPrototypes()) return;
  const nodeBind = prototype.bind;
  prototype.bind = function bind(this: AsyncResource, fn, thisArg) {
    if (typeof fn !== 'function') return nodeBind.call(this, fn, thisArg); // Node's own ERR_INVALID_ARG_TYPE
    return boundTo(this, fn as (...args: unknown[]) => unknown, thisArg);
  };
}

function boundTo(resource: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg: unknown): (...args: unknown[]) => unknown {
  const bound: ((...args: unknown[]) => unknown) & { [RESOURCE]?: AsyncResource } =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  bound[RESOURCE] = resource;
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
  Object.defineProperty(bound, 'asyncResource', asyncResourceProperty);
  return bound;
}
