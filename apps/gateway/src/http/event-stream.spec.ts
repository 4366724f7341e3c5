import { Controller, Get, Module, Req, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pino from 'pino';
import { Observable, Subject } from 'rxjs';
import { DomainError } from '@batchgate/platform/errors';
import { InFlightLimit } from '@batchgate/platform/overload';
import { waitFor } from '@batchgate/testing';
import { gatewayConfigSchema } from '../config/gateway.config';
import { EventStreamModule, EventStreams } from './event-stream';
import { HttpExceptionFilter } from './http-exception.filter';
import { shedBeyondInFlightLimit } from './in-flight-limit.hook';

/** The gRPC stream each request to /stream gets, in request order; the test drives them. */
const sources: Array<Subject<{ n: number }> & { unsubscribed?: boolean }> = [];

@Controller()
class StreamingController {
  constructor(private readonly streams: EventStreams) {}

  @Get('stream')
  stream(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const source: (typeof sources)[number] = new Subject<{ n: number }>();
    sources.push(source);
    // As the gRPC client gives a stream: unsubscribing cancels the call.
    const call = new Observable<{ n: number }>((subscriber) => {
      const inner = source.subscribe(subscriber);
      return () => {
        source.unsubscribed = true;
        inner.unsubscribe();
      };
    });
    return this.streams.send(request, reply, call, { data: (m) => ({ n: m.n }), event: () => 'tick', formats: ['sse', 'ndjson'] });
  }

  @Get('plain')
  plain() {
    return { ok: true };
  }
}

describe('event streams (SSE / NDJSON from a gRPC server stream)', () => {
  const config = gatewayConfigSchema.parse({ HTTP_MAX_STREAMS: '2', EVENT_STREAM_HEARTBEAT_MS: '200' });
  const inFlight = new InFlightLimit(1);
  let app: NestFastifyApplication;
  let origin: string;
  let streams: EventStreams;

  beforeAll(async () => {
    @Module({ imports: [EventStreamModule.register(config)], controllers: [StreamingController] })
    class TestModule {}
    app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new HttpExceptionFilter(pino({ level: 'silent' })));
    shedBeyondInFlightLimit(app.getHttpAdapter().getInstance(), inFlight);
    await app.listen(0, '127.0.0.1');
    origin = await app.getUrl();
    streams = app.get(EventStreams);
  });
  afterAll(() => app.close());

  const nextSource = async (count: number) => {
    return waitFor(() => sources[count - 1], { timeoutMs: 5_000, intervalMs: 5 });
  };

  it('writes each message as an SSE event as it comes, and ends with the stream', async () => {
    const answer = fetch(`${origin}/stream`);
    const source = await nextSource(sources.length + 1);
    source.next({ n: 1 });
    const response = await answer;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('event: tick\ndata: {"n":1}\n\n');
    source.next({ n: 2 });
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('event: tick\ndata: {"n":2}\n\n');
    source.complete();
    expect((await reader.read()).done).toBe(true);
  });

  it('gives NDJSON lines to a client that asks for them', async () => {
    const answer = fetch(`${origin}/stream`, { headers: { accept: 'application/x-ndjson' } });
    const source = await nextSource(sources.length + 1);
    source.next({ n: 7 });
    source.next({ n: 8 });
    source.complete();
    const response = await answer;
    expect(response.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(await response.text()).toBe('{"n":7}\n{"n":8}\n');
  });

  it('answers an error raised before the first message with its status and error body', async () => {
    const answer = fetch(`${origin}/stream`);
    const source = await nextSource(sources.length + 1);
    source.error(new DomainError('not_found', 'TASK.NOT_FOUND', 'No such task'));
    const response = await answer;
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'TASK.NOT_FOUND', status: 'NOT_FOUND' } });
    expect(streams.openStreams).toBe(0);
  });

  it('ends with an error event when the stream fails after it began', async () => {
    const answer = fetch(`${origin}/stream`);
    const source = await nextSource(sources.length + 1);
    source.next({ n: 1 });
    source.error(new DomainError('unavailable', 'SERVICE.UNAVAILABLE', 'gone'));
    const events = (await (await answer).text()).split('\n\n');
    expect(events[0]).toBe('event: tick\ndata: {"n":1}');
    expect(events[1]).toMatch(/^event: error\ndata: /);
    expect(JSON.parse((events[1] ?? '').replace(/^event: error\ndata: /, ''))).toMatchObject({ error: { code: 'SERVICE.UNAVAILABLE', status: 'UNAVAILABLE' } });
    expect(events.slice(2)).toEqual(['']);
  });

  it('commits the 200 with a keep-alive after a silence, and cancels the call when the client disconnects', async () => {
    const client = new AbortController();
    const answer = fetch(`${origin}/stream`, { signal: client.signal });
    const source = await nextSource(sources.length + 1);
    const response = await answer; // no message yet: the heartbeat commits the answer
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(': keep-alive\n\n');
    client.abort();
    await waitFor(() => source.unsubscribed || undefined, { timeoutMs: 5_000, intervalMs: 5 });
    await waitFor(() => streams.openStreams === 0 || undefined, { timeoutMs: 5_000, intervalMs: 5 });
  });

  it('frees the in-flight slot once streaming, and bounds open streams by HTTP_MAX_STREAMS (503)', async () => {
    const open = async () => {
      const answer = fetch(`${origin}/stream`);
      const source = await nextSource(sources.length + 1);
      source.next({ n: 1 });
      expect((await answer).status).toBe(200);
      return source;
    };
    // One in-flight slot only: an open stream does not hold it, so a second stream and a plain request get in.
    const first = await open();
    const second = await open();
    expect((await fetch(`${origin}/plain`)).status).toBe(200);
    const third = await fetch(`${origin}/stream`);
    expect(third.status).toBe(503);
    expect(await third.json()).toMatchObject({ error: { code: 'SERVICE.OVERLOADED' } });
    first.complete();
    second.complete();
    await waitFor(() => streams.openStreams === 0 || undefined, { timeoutMs: 5_000, intervalMs: 5 });
  });
});
