import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import { installFastAsyncResourceBind } from './async-resource-bind';

describe('installFastAsyncResourceBind', () => {
  const prototype = AsyncResource.prototype as unknown as { bind: AsyncResource['bind'] };
  const nodeBind = prototype.bind;
  beforeAll(() => installFastAsyncResourceBind());
  // The worker's other test files get Node's own bind back.
  afterAll(() => {
    prototype.bind = nodeBind;
  });

  it('replaces a bind whose deprecated accessors carry a prototype of their own (Node 20), and only such a bind', () => {
    const nodeGetter = Object.getOwnPropertyDescriptor(nodeBind.call(new AsyncResource('t'), () => 0), 'asyncResource')?.get;
    const nodeSetsPrototypes = nodeGetter !== undefined && Object.getPrototypeOf(nodeGetter) !== Function.prototype;
    expect(prototype.bind !== nodeBind).toBe(nodeSetsPrototypes);
    const getter = Object.getOwnPropertyDescriptor(new AsyncResource('t').bind(() => 0), 'asyncResource')?.get;
    expect(Object.getPrototypeOf(getter)).toBe(Function.prototype);
  });

  it('is installed once however often it is called', () => {
    const installed = prototype.bind;
    installFastAsyncResourceBind();
    expect(prototype.bind).toBe(installed);
  });

  it('runs the function in the resource’s async scope, with its arguments, result and the caller’s this', () => {
    const storage = new AsyncLocalStorage<string>();
    const resource = storage.run('at bind', () => new AsyncResource('t'));
    const bound = resource.bind(function (this: unknown, a: number, b: number) {
      return { sum: a + b, self: this, store: storage.getStore(), asyncId: executionAsyncId() };
    });
    const self = { name: 'caller' };
    const seen = storage.run('at call', () => bound.call(self, 2, 3));
    expect(seen).toEqual({ sum: 5, self, store: 'at bind', asyncId: resource.asyncId() });
    expect(bound.length).toBe(2);
    expect(Object.getOwnPropertyDescriptor(bound, 'length')).toMatchObject({ writable: false, enumerable: false, configurable: true });
  });

  it('binds the given thisArg, as Node does, and AsyncResource.bind uses it', () => {
    const self = { name: 'given' };
    // @types/node leaves out bind's thisArg, which Node has taken since 14.8.
    const bindWithThis = AsyncResource.prototype.bind as (this: AsyncResource, fn: () => unknown, thisArg: unknown) => () => unknown;
    const viaThisArg = bindWithThis.call(
      new AsyncResource('t'),
      function (this: unknown) {
        return this;
      },
      self,
    );
    expect(viaThisArg.call({ name: 'ignored' })).toBe(self);
    const storage = new AsyncLocalStorage<string>();
    const viaStatic = storage.run('static', () => AsyncResource.bind(() => storage.getStore()));
    expect(viaStatic()).toBe('static');
  });

  it('keeps the deprecated asyncResource property, warning once as DEP0172', () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const resource = new AsyncResource('t');
      const bound = resource.bind(() => 0) as unknown as { asyncResource: AsyncResource };
      expect(Object.keys(bound)).toContain('asyncResource');
      expect(bound.asyncResource).toBe(resource);
      const other = new AsyncResource('t');
      bound.asyncResource = other;
      expect(bound.asyncResource).toBe(other);
      expect(emitWarning.mock.calls).toEqual([['The asyncResource property on bound functions is deprecated', { type: 'DeprecationWarning', code: 'DEP0172' }]]);
    } finally {
      emitWarning.mockRestore();
    }
  });

  it('refuses what is not a function with Node’s own error', () => {
    expect(() => new AsyncResource('t').bind(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});
