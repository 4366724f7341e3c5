import { PassThrough } from 'node:stream';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  applyDecorators,
  Global,
  Injectable,
  Module,
  type DynamicModule,
  type Type,
} from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiProduces, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Subscription, type Observable } from 'rxjs';
import { InFlightLimit, overloadedError } from '@batchgate/platform/overload';
import type { GatewayConfig } from '../config/gateway.config';
import { errorResponseFor } from './error-response';
import { releaseInFlightSlot } from './in-flight-limit.hook';
import { ErrorBodyView } from './openapi';

export const SSE_MEDIA_TYPE = 'text/event-stream';
export const NDJSON_MEDIA_TYPE = 'application/x-ndjson';

/** How the stream reaches the client: server-sent events, or one JSON document per line. */
export type StreamFormat = 'sse' | 'ndjson';

/** NDJSON when the client asks for it (`Accept: application/x-ndjson`), server-sent events otherwise. */
export function streamFormatOf(accept: string | undefined): StreamFormat {
  return accept?.includes(NDJSON_MEDIA_TYPE) ? 'ndjson' : 'sse';
}

export interface EventStreamOptions<T> {
  /** The JSON of one message (the view the route documents with {@link ApiEventStream}). */
  data: (message: T) => unknown;
  /** The SSE event name of a message (`message` when absent); NDJSON lines carry no name. */
  event?: (message: T) => string;
  /** Formats the route offers; `sse` only unless it documents NDJSON too. */
  formats?: readonly StreamFormat[];
}

/**
 * Writes a gRPC server stream to the HTTP client message by message, as server-sent events or
 * NDJSON, for the routes that follow a job or yield results as they finish (SPEC §2.6).
 *
 * Why by hand: no maintained Fastify/Nest SSE library cancels the upstream on disconnect, answers
 * early errors with the API's error status, and frees the request's in-flight slot — and the
 * format itself is a few lines.
 *
 * - Errors the stream raises before its first message (a foreign id: 404) are thrown, so the
 *   route answers them like any other error. The 200 is committed at the first message, or after
 *   `EVENT_STREAM_HEARTBEAT_MS` of silence (then a keep-alive comment); a later error is the last
 *   event (`event: error`, the error body; an NDJSON line `{"error": …}`), and the stream ends.
 * - The stream's own deadline (`GRPC_STREAM_DEADLINE_MS`) ends it quietly: EventSource reconnects.
 * - A client that disconnects cancels the gRPC call (the service stops the work it did for it);
 *   one that reads slower than the messages come (over `EVENT_STREAM_MAX_BUFFER_BYTES` unread)
 *   is disconnected rather than buffered without bound.
 * - An open stream does not hold one of the HTTP_MAX_IN_FLIGHT slots (it would starve ordinary
 *   requests); streams have their own bound, `HTTP_MAX_STREAMS` (beyond it: 503 + Retry-After).
 *
 * ```ts
 * // the module: a client for streams, with the stream deadline
 * downstreamClientProvider(PUBLISH_STREAM_CLIENT, { ...publish, deadlineMs: config.GRPC_STREAM_DEADLINE_MS })
 * // the route
 * @Get('publish_task/:taskId/events')
 * @ApiEventStream(PublishTaskView, 'Every state and progress change, until the task ends')
 * events(@Param() p: TaskRef, @CurrentPrincipal() who: Principal, @Req() req: FastifyRequest, @Res() reply: FastifyReply, @CurrentRequestContext() context: RequestContext) {
 *   return this.streams.send(req, reply, this.publishStream.watchPublishTask({ ... }, context), { event: () => 'task', data: toTaskView });
 * }
 * ```
 */
@Injectable()
export class EventStreams {
  private readonly open: InFlightLimit;

  constructor(private readonly config: GatewayConfig) {
    this.open = new InFlightLimit(config.HTTP_MAX_STREAMS);
  }

  /** Open streams (for tests and metrics). */
  get openStreams(): number {
    return this.open.inFlight;
  }

  send<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    source: Observable<T>,
    options: EventStreamOptions<T>,
  ): Promise<void> {
    if (!this.open.tryAcquire()) return Promise.reject(overloadedError(this.open));
    const format = (options.formats ?? ['sse']).includes('ndjson')
      ? streamFormatOf(request.headers.accept)
      : 'sse';
    const body = new PassThrough();
    return new Promise<void>((resolve, reject) => {
      // Closed first if the source ends synchronously: adding to it then unsubscribes at once.
      const subscription = new Subscription();
      let committed = false;
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        subscription.unsubscribe(); // cancels the gRPC call if it is still running
        this.open.release();
        body.end();
        resolve(); // a client gone before the first message: nothing left to answer
      };
      reply.raw.once('close', close);
      const commit = () => {
        if (committed) return;
        committed = true;
        releaseInFlightSlot(reply);
        void reply
          .status(200)
          .header(
            'content-type',
            `${format === 'sse' ? SSE_MEDIA_TYPE : NDJSON_MEDIA_TYPE}; charset=utf-8`,
          )
          .header('cache-control', 'no-cache, no-transform')
          .header('x-accel-buffering', 'no') // proxies (nginx) pass each event on at once
          .send(body);
        resolve();
      };
      const write = (chunk: string) => {
        commit();
        body.write(chunk);
        if (body.writableLength > this.config.EVENT_STREAM_MAX_BUFFER_BYTES) reply.raw.destroy();
      };
      const frame = (event: string, data: unknown) =>
        format === 'sse'
          ? `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
          : `${JSON.stringify(data)}\n`;

      // NDJSON has no comments: its keep-alive is an empty line, which NDJSON readers skip.
      const heartbeat = setInterval(
        () => write(format === 'sse' ? ': keep-alive\n\n' : '\n'),
        this.config.EVENT_STREAM_HEARTBEAT_MS,
      );
      subscription.add(
        source.subscribe({
          next: (message) =>
            write(frame(options.event?.(message) ?? 'message', options.data(message))),
          error: (error: { code?: number }) => {
            if (!committed) {
              committed = true; // answered by the route's error handling instead
              reject(error);
            } else if (error?.code !== GrpcStatus.DEADLINE_EXCEEDED) {
              write(frame('error', errorResponseFor(error, request.id).body));
            }
            close();
          },
          complete: () => {
            commit();
            close();
          },
        }),
      );
    });
  }
}

/** Provides {@link EventStreams} to every downstream module's controllers (one bound for the process). */
@Global()
@Module({})
export class EventStreamModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: EventStreamModule,
      providers: [{ provide: EventStreams, useValue: new EventStreams(config) }],
      exports: [EventStreams],
    };
  }
}

/**
 * Documents a streaming route's 200: each message is `view` (as an SSE event's `data`, or an
 * NDJSON line when `formats` offers it), a failure after the stream began the error body.
 */
export function ApiEventStream(
  view: Type<unknown>,
  description: string,
  formats: readonly StreamFormat[] = ['sse'],
) {
  const line = { oneOf: [{ $ref: getSchemaPath(view) }, { $ref: getSchemaPath(ErrorBodyView) }] };
  const content: Record<string, { schema: object }> = {
    [SSE_MEDIA_TYPE]: {
      schema: {
        type: 'string',
        description: `Server-sent events; each event's data is one JSON document`,
        'x-event-data': line,
      },
    },
  };
  if (formats.includes('ndjson')) content[NDJSON_MEDIA_TYPE] = { schema: line };
  return applyDecorators(
    ApiExtraModels(view, ErrorBodyView),
    ApiProduces(...Object.keys(content)),
    ApiOkResponse({ description, content }),
  );
}
