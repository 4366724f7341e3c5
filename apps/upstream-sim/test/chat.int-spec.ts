import { completionFor, countTokens, promptOf } from '../src/chat/completion';
import { waitFor } from '@batchgate/testing';
import { json, startSim, type SimUnderTest } from './sim.harness';

interface Completion {
  id: string;
  object: string;
  choices: Array<{ message: { role: string; content: string }; finish_reason: string }>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface Chunk {
  object: string;
  choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>;
  usage?: Completion['usage'];
}

const messages = [
  { role: 'system', content: 'You create personas for a stock community.' },
  { role: 'user', content: 'Write a persona for a patient dividend investor' },
];

/** The `data:` payloads of an SSE body. */
const sseEvents = (text: string) =>
  text
    .split('\n\n')
    .filter(Boolean)
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      return event.slice('data: '.length);
    });

describe('upstream-sim chat completions (OpenAI-compatible)', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const complete = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    sim.post('/v1/chat/completions', { model: 'sim-gpt', messages, ...body }, headers);

  it('answers deterministic text from the prompt, with token usage', async () => {
    const first = await json<Completion>(complete({}));
    const expected = completionFor(promptOf(messages), 4_096);
    expect(first).toMatchObject({
      object: 'chat.completion',
      choices: [
        { message: { role: 'assistant', content: expected.content }, finish_reason: 'stop' },
      ],
    });
    expect(first.usage.completion_tokens).toBe(countTokens(expected.content));
    expect(first.usage.prompt_tokens).toBeGreaterThan(countTokens(messages[1]?.content ?? ''));
    expect(first.usage.total_tokens).toBe(
      first.usage.prompt_tokens + first.usage.completion_tokens,
    );
    expect((await json<Completion>(complete({}))).choices[0]?.message.content).toBe(
      expected.content,
    );
  });

  it('streams server-sent events that add up to the same text, with usage on request, ending in [DONE]', async () => {
    const plain = await json<Completion>(complete({}));
    const response = await complete({ stream: true, stream_options: { include_usage: true } });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = sseEvents(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(plain.choices[0]?.message.content);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: plain.usage });
  });

  it('streams over time with a chunk delay, and counts a stream the client abandons as aborted', async () => {
    await sim.configure({ chat: { streamChunkDelayMs: 10 } });
    const started = performance.now();
    const events = sseEvents(await (await complete({ stream: true })).text());
    expect(performance.now() - started).toBeGreaterThanOrEqual(10 * (events.length - 1));

    // Read the first chunk, then hang up.
    const reader = (await complete({ stream: true })).body?.getReader();
    await reader?.read();
    await reader?.cancel();
    const counters = await waitFor(async () => {
      const route = (await sim.stats()).routes['chat.completions'];
      return route && route.inFlight === 0 ? route : undefined;
    }, { intervalMs: 10, what: 'the hung-up stream to be counted out' });
    expect(counters).toMatchObject({
      requests: 2,
      aborted: 1,
      inFlight: 0,
    });
  });

  it('stops at max_tokens with finish_reason "length", and answers JSON in JSON mode', async () => {
    const short = await json<Completion>(complete({ max_tokens: 4 }));
    expect(short.choices[0]).toMatchObject({ finish_reason: 'length' });
    expect(short.usage.completion_tokens).toBe(4);
    const structured = await json<Completion>(
      complete({ response_format: { type: 'json_object' } }),
    );
    expect(JSON.parse(structured.choices[0]?.message.content ?? '')).toMatchObject({
      title: expect.any(String),
      content: expect.any(String),
    });
  });

  it('requires a configured API key, with the OpenAI error body', async () => {
    await sim.configure({ chat: { apiKeys: ['sk-sim-1'] } });
    for (const headers of [{}, { authorization: 'Bearer sk-wrong' }] as Array<
      Record<string, string>
    >) {
      const response = await complete({}, headers);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        error: {
          message: expect.any(String),
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    }
    expect((await complete({}, { authorization: 'Bearer sk-sim-1' })).status).toBe(200);
  });

  it('rejects a malformed request with 400 and says what is wrong', async () => {
    const response = await sim.post('/v1/chat/completions', { model: 'x', messages: [] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.stringContaining('messages') },
    });
    expect((await sim.post('/v1/chat/completions', { messages })).status).toBe(400);
  });
});
