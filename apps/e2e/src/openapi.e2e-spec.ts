import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenApiDocument, ReceivedResponse } from './openapi-responses';
import { startStack, type Stack } from './stack';

/**
 * The OpenAPI document tells the truth (issue 11): every operation documents its success answer
 * with a schema and every error status it can answer with the error body, and `stack.fetch`, which
 * every e2e spec uses, holds each answer the suite receives to it. This spec checks the document's
 * shape and that the checker refuses what the document does not say.
 */
describe('the OpenAPI document', () => {
  let stack: Stack;
  let document: OpenApiDocument;
  let admin: string;

  beforeAll(async () => {
    stack = await startStack();
    admin = `Bearer ${await stack.mintToken({ perms: ['tokens:admin'] })}`;
    document = (await (await stack.fetch('/api/docs/openapi.json')).json()) as OpenApiDocument;
  }, 60_000);
  afterAll(() => stack.stop());

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, path, method, responses: operation.responses })),
    );

  // One success status per operation, except where the answer depends on how the work went:
  // seed 000's de-list answers 200 when the batch is done and 202 while it still runs (issue 14).
  const TWO_SUCCESSES: Record<string, string[]> = { 'POST /api/temu/seller/offline': ['200', '202'] };

  it('gives every operation one success status, with a response schema unless it is 204', () => {
    expect(operations().length).toBeGreaterThanOrEqual(14);
    expect(stack.openApi.responses.operationCount).toBe(operations().length);
    for (const { name, responses } of operations()) {
      const successes = Object.keys(responses).filter((status) => status.startsWith('2'));
      expect({ name, successes: successes.length === 1 ? 1 : successes }).toEqual({ name, successes: TWO_SUCCESSES[name] ?? 1 });
      for (const status of successes) {
        // JSON, or an event stream's (ApiEventStream: text/event-stream).
        const schema = Object.values(responses[status]?.content ?? {})[0]?.schema;
        expect({ name, status, schema: status === '204' ? 'none' : schema }).toEqual({ name, status, schema: status === '204' ? 'none' : expect.anything() });
      }
    }
    expect(Object.keys(document.paths['/api/stock/sync/batch']?.['post']?.responses ?? {})).toContain('202');
  });

  it('documents the errors each kind of operation can answer, each with the error-body schema', () => {
    for (const { name, path, method, responses } of operations()) {
      const expected = ['400', '401', '403', '429', '503', '504', ...(method === 'get' ? [] : ['413', '415']), ...(path.includes('{') ? ['404'] : [])];
      expect({ name, missing: expected.filter((status) => !responses[status]) }).toEqual({ name, missing: [] });
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue;
        expect({ name, status, schema: response.content?.['application/json']?.schema }).toEqual({
          name,
          status,
          schema: { $ref: '#/components/schemas/ErrorBodyView' },
        });
      }
    }
  });

  it('checks answers: refuses an undocumented status, a missing, extra or mistyped field, a missing Retry-After and a body on 204', () => {
    const token = {
      id: 1,
      provider: 'itick',
      name: '',
      secretMask: '…5b4a',
      status: 'active',
      dailyLimit: 0,
      dailyUsed: 0,
      rateLimitPerSecond: 0,
      expireTime: null,
      lastError: null,
      createdAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:00:00.000Z',
    };
    const json = new Headers({ 'content-type': 'application/json; charset=utf-8' });
    const answer = (method: string, url: string, status: number, body: unknown, headers = json): ReceivedResponse => ({
      method,
      url,
      status,
      headers,
      body: body === undefined ? '' : JSON.stringify(body),
    });
    const problems = (received: ReceivedResponse) => stack.openApi.responses.problemsWith(received);
    const error = { error: { code: 'X', status: 'UNAVAILABLE', message: 'down' } };

    expect(problems(answer('POST', '/api/tokens', 201, token))).toEqual([]);
    expect(problems(answer('GET', '/api/tokens?size=1', 200, { items: [token], page: 1, size: 1, total: 1 }))).toEqual([]);
    expect(problems(answer('DELETE', '/api/tokens/7', 204, undefined, new Headers()))).toEqual([]);
    expect(problems(answer('GET', '/api/stock/sync/jobs/abc', 404, error))).toEqual([]);
    expect(problems(answer('GET', '/nowhere', 404, error))).toEqual([]);

    expect(problems(answer('GET', '/api/tokens', 500, error))[0]).toContain('does not list');
    expect(problems(answer('POST', '/api/tokens', 200, token))[0]).toContain('does not list');
    expect(problems(answer('POST', '/api/tokens', 201, { ...token, secretMask: undefined }))[0]).toContain("must have required property 'secretMask'");
    expect(problems(answer('POST', '/api/tokens', 201, { ...token, secret: 'itk-9f8e7d6c' }))[0]).toContain('must NOT have additional properties');
    expect(problems(answer('POST', '/api/tokens', 201, { ...token, id: 1.5 }))[0]).toContain('/id must be integer');
    expect(problems(answer('POST', '/api/tokens', 201, { ...token, status: 'lost' }))[0]).toContain('/status must be equal to one of the allowed values');
    expect(problems(answer('POST', '/api/tokens', 400, { message: 'bad' }))[0]).toContain("must have required property 'error'");
    expect(problems(answer('POST', '/api/tokens', 503, error))[0]).toContain('Retry-After');
    expect(problems(answer('POST', '/api/tokens', 503, error, new Headers({ 'content-type': 'application/json', 'retry-after': '1' })))).toEqual([]);
    expect(problems(answer('DELETE', '/api/tokens/7', 204, { deleted: true }))[0]).toContain('has a body');
    expect(problems(answer('POST', '/api/tokens', 201, token, new Headers({ 'content-type': 'text/plain' })))[0]).toContain('content-type');
  });

  it('holds real answers to the document through stack.fetch', async () => {
    const before = stack.openApi.checked();
    const json = { authorization: admin, 'content-type': 'application/json' };
    const created = await stack.fetch('/api/tokens', { method: 'POST', headers: json, body: JSON.stringify({ provider: 'openapi', secret: 'openapi-secret-1' }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    const statuses = [
      (await stack.fetch('/api/tokens?provider=openapi&size=5', { headers: { authorization: admin } })).status,
      (await stack.fetch(`/api/tokens/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ status: 'disabled' }) })).status,
      (await stack.fetch(`/api/tokens/${id}`, { method: 'DELETE', headers: { authorization: admin } })).status,
      (await stack.fetch(`/api/tokens/${id}`, { method: 'DELETE', headers: { authorization: admin } })).status,
      (await stack.fetch('/api/tokens', { method: 'POST', headers: json, body: '{"provider":' })).status,
      (await stack.fetch('/api/tokens', { method: 'POST', headers: { authorization: admin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'provider=x' })).status,
      (await stack.fetch('/api/tokens', { method: 'POST', headers: json, body: JSON.stringify({ provider: 'x', secret: 'y'.repeat(20_000) }) })).status,
      (await stack.fetch('/api/tokens')).status,
      (await stack.fetch('/api/tokens', { headers: { authorization: `Bearer ${await stack.mintToken({ perms: [] })}` } })).status,
      (await stack.fetch('/api/nowhere', { headers: { authorization: admin } })).status,
    ];
    expect(statuses).toEqual([200, 200, 204, 404, 400, 415, 413, 401, 403, 404]);
    expect(stack.openApi.checked() - before).toBe(statuses.length + 1);
  });

  it('is the only way the e2e specs call a gateway: none fetches a gateway URL directly', () => {
    const direct = /(?<![.\w])fetch\(\s*`\$\{(?:stack\.)?gatewayUrl\}/;
    const specs = readdirSync(__dirname).filter((file) => file.endsWith('.e2e-spec.ts'));
    expect(specs.length).toBeGreaterThan(5);
    expect(specs.filter((file) => direct.test(readFileSync(join(__dirname, file), 'utf8')))).toEqual([]);
  });
});
