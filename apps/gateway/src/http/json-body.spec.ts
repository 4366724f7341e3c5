import Fastify, { type FastifyInstance } from 'fastify';
import { errorResponseFor } from './error-response';
import { MAX_JSON_DEPTH, useStrictJsonBodies } from './json-body';

describe('useStrictJsonBodies', () => {
  let fastify: FastifyInstance;
  beforeAll(async () => {
    fastify = Fastify();
    useStrictJsonBodies(fastify);
    fastify.post('/echo', async (request) => ({ body: request.body }));
    fastify.setErrorHandler((error, _request, reply) => {
      const answer = errorResponseFor(error);
      void reply.status(answer.status).send(answer.body);
    });
    await fastify.ready();
  });
  afterAll(() => fastify.close());

  const post = (payload: string | Buffer, contentType?: string) =>
    fastify.inject({ method: 'POST', url: '/echo', payload, headers: contentType ? { 'content-type': contentType } : {} });
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('parses UTF-8 JSON, with or without charset=utf-8, and a leading BOM', async () => {
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"']) {
      const answer = await post('{"name":"浦发银行 😀"}', contentType);
      expect(answer.statusCode).toBe(200);
      expect(answer.json()).toEqual({ body: { name: '浦发银行 😀' } });
    }
    expect((await post(Buffer.from('\uFEFF{"a":1}'), 'application/json')).json()).toEqual({ body: { a: 1 } });
  });

  it.each([
    ['form-encoded', 'application/x-www-form-urlencoded', 'provider=itick&secret=x'],
    ['text', 'text/plain', '{"a":1}'],
    ['a JSON-like type', 'application/json-patch+json', '[]'],
    ['another charset', 'application/json; charset=latin1', '{"a":1}'],
    ['no content type', undefined, '{"a":1}'],
  ])('answers 415 for %s', async (_name, contentType, payload) => {
    const answer = await post(payload, contentType);
    expect(answer.statusCode).toBe(415);
    expect(answer.json()).toMatchObject({ error: { code: 'REQUEST.UNSUPPORTED_MEDIA_TYPE' } });
  });

  it.each([
    ['a stray continuation byte', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x80, 0x22, 0x7d])],
    ['an overlong "/"', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d])],
    ['an encoded surrogate', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])],
    ['a truncated sequence', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe6, 0xb5, 0x22, 0x7d])],
    ['a lone surrogate escape in a value', Buffer.from('{"a":"x\\ud800"}')],
    ['a lone surrogate escape in a key', Buffer.from('{"\\udc00":1}')],
  ])('answers 400 REQUEST.INVALID_ENCODING for %s', async (_name, payload) => {
    const answer = await post(payload, 'application/json');
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ error: { code: 'REQUEST.INVALID_ENCODING' } });
  });

  it('takes an empty application/json body as no body', async () => {
    const answer = await post('', 'application/json');
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({});
    expect((await post(' ', 'application/json')).statusCode).toBe(400); // whitespace is not JSON
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more (and 100,000) with 400`, async () => {
    expect((await post(nested(MAX_JSON_DEPTH), 'application/json')).statusCode).toBe(200);
    for (const depth of [MAX_JSON_DEPTH + 1, 100_000]) {
      const answer = await post(nested(depth), 'application/json');
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ error: { code: 'REQUEST.TOO_DEEP', details: { maxDepth: MAX_JSON_DEPTH } } });
    }
    const deepObject = `${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`;
    expect((await post(deepObject, 'application/json')).json()).toMatchObject({ error: { code: 'REQUEST.TOO_DEEP' } });
  });

  it('keeps Fastify\'s refusals of malformed JSON, NUL bytes and prototype poisoning', async () => {
    for (const payload of ['{"a":', 'nul\u0000', '{"a":"\u0000"}', '{"__proto__":{"x":1}}']) {
      const answer = await post(payload, 'application/json');
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ error: { code: expect.any(String) } });
    }
  });
});
