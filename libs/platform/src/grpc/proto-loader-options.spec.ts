import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { SERVICE_PROTOS, type ServiceProtoName } from '@batchgate/contracts';
import { packageDefinitionOf, protoLoaderOptions, protoPathOf } from './proto-loader-options';

type Methods = Record<string, MethodDefinition<object, object>>;
const protos = Object.keys(SERVICE_PROTOS) as ServiceProtoName[];
const methodsOf = (proto: ServiceProtoName, from = packageDefinitionOf(proto)) => from[SERVICE_PROTOS[proto].definition.fullName] as Methods;
const loaderMethodsOf = (proto: ServiceProtoName) => methodsOf(proto, loadSync(protoPathOf(proto), protoLoaderOptions()));
function methodOf(methods: Methods, name: string): MethodDefinition<object, object> {
  const method = methods[name];
  if (!method) throw new Error(`no method ${name}`);
  return method;
}

describe('packageDefinitionOf', () => {
  it.each(protos)('%s: every method encodes with the generated codecs and decodes as proto-loader does', (proto) => {
    const loader = loaderMethodsOf(proto);
    const methods = methodsOf(proto);
    expect(Object.keys(methods).sort()).toEqual(Object.keys(loader).sort());
    for (const [name, method] of Object.entries(methods)) {
      const original = methodOf(loader, name);
      expect(method.path).toBe(original.path);
      expect(method.requestSerialize).not.toBe(original.requestSerialize);
      // An empty message: every field unset, decoded with proto-loader's defaults.
      expect(method.requestDeserialize(method.requestSerialize({}))).toEqual(original.requestDeserialize(original.requestSerialize({})));
      expect(method.responseDeserialize(method.responseSerialize({}))).toEqual(original.responseDeserialize(original.responseSerialize({})));
    }
  });

  const listTokens = () => methodOf(methodsOf('tokens'), 'ListTokens');
  const token = {
    id: 9_007_199_254_740_000,
    provider: 'itick',
    name: 'main',
    secretMask: '…5b4a',
    status: 1,
    dailyLimit: 1_000,
    dailyUsed: 17,
    rateLimitPerSecond: 5,
    expireTime: '2026-12-31T00:00:00.000Z',
    lastError: 'HTTP 401',
    createdAt: '2026-12-01T08:00:00.000Z',
    updatedAt: '2026-12-01T08:00:00.123Z',
  };

  it('writes a page with every field set as proto-loader would', () => {
    const answer = { tokens: [token, { ...token, id: 2, name: 'ünïcode ✓' }], page: { page: 1, pageSize: 20, total: 2 } };
    const loader = methodOf(loaderMethodsOf('tokens'), 'ListTokens');
    const decoded = loader.responseDeserialize(listTokens().responseSerialize(answer));
    expect(decoded).toEqual(loader.responseDeserialize(loader.responseSerialize(answer)));
    expect(decoded).toMatchObject({ tokens: [token, { id: 2, name: 'ünïcode ✓' }] });
  });

  it('treats null and missing fields as unset, as proto-loader does (no "null" strings, no throw on a null number)', () => {
    const rowShaped = { tokens: [{ id: 3, name: null, lastError: null, dailyLimit: null, expireTime: undefined }], page: null };
    const decoded = listTokens().responseDeserialize(listTokens().responseSerialize(rowShaped)) as { tokens: Array<Record<string, unknown>>; page: unknown };
    expect(decoded.tokens[0]).toMatchObject({ id: 3, name: '', lastError: '', dailyLimit: 0, expireTime: '' });
    expect(decoded.page).toBeNull();
  });

  it('loads each proto once per process', () => {
    expect(packageDefinitionOf('tokens')).toBe(packageDefinitionOf('tokens'));
  });
});
