import type { DomainEvents, EventSubject } from '@batchgate/contracts';
import {
  AckPolicy,
  type JetStreamClient,
  DeliverPolicy,
  headers as natsHeaders,
  JSONCodec,
  type ConsumerMessages,
  type NatsConnection,
  type PubAck,
} from 'nats';
import type { Logger } from 'pino';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestContext } from '../context';

const codec = JSONCodec();
const utf8 = new TextEncoder();

/** Publishes typed domain events to JetStream. `messageId` makes a repeat publish a no-op. */
export class EventPublisher {
  /** One client for every publish: `connection.jetstream()` builds a new one (and its options) per call. */
  private readonly jetstream: JetStreamClient;

  constructor(connection: NatsConnection) {
    this.jetstream = connection.jetstream();
  }

  async publish<S extends EventSubject>(
    subject: S,
    payload: DomainEvents[S],
    options: { messageId: string; requestId?: string },
  ): Promise<PubAck> {
    return this.publishJson(subject, JSON.stringify(payload), options);
  }

  /**
   * Publishes an event already serialised as JSON: the outbox's rows (and the relay's memory of
   * what it committed) hold it so, and parsing it back only to serialise it again was two passes
   * over every event on the relay's path.
   */
  async publishJson(subject: EventSubject, json: string, options: { messageId: string; requestId?: string }): Promise<PubAck> {
    const headers = natsHeaders();
    if (options.requestId) headers.set(REQUEST_ID_HEADER, options.requestId);
    return this.jetstream.publish(subject, utf8.encode(json), {
      msgID: options.messageId,
      headers,
    });
  }
}

export interface EventSubscription<S extends EventSubject> {
  stream: string;
  /** Durable consumer name: replicas sharing it share the work; a restart resumes where it stopped. */
  durable: string;
  subject: S;
  handler: (payload: DomainEvents[S], meta: { messageId?: string; redelivered: boolean }) => Promise<void>;
  /** Delay before a failed message is redelivered. */
  retryDelayMs?: number;
  maxDeliver?: number;
  /**
   * Where a durable that does not exist yet starts: at the stream's first event (default) or at
   * the next one published. An existing durable always resumes where it stopped.
   */
  startAt?: 'first' | 'next';
}

/**
 * Consumes typed domain events with explicit acknowledgement: acked after the handler succeeds,
 * redelivered later when it throws. Handlers must be idempotent (delivery is at least once).
 * The request id of the publisher is bound to the handler's async context.
 */
export async function subscribeEvents<S extends EventSubject>(
  connection: NatsConnection,
  subscription: EventSubscription<S>,
  logger: Logger,
): Promise<{ stop: () => Promise<void> }> {
  const manager = await connection.jetstreamManager();
  await manager.consumers.add(subscription.stream, {
    durable_name: subscription.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: subscription.startAt === 'next' ? DeliverPolicy.New : DeliverPolicy.All,
    filter_subject: subscription.subject,
    max_deliver: subscription.maxDeliver ?? 10,
  });
  const consumer = await connection.jetstream().consumers.get(subscription.stream, subscription.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 64 });
  const done = (async () => {
    for await (const message of messages) {
      const requestId = requestIdFrom(message.headers?.get(REQUEST_ID_HEADER));
      await runWithRequestContext({ requestId }, async () => {
        try {
          await subscription.handler(codec.decode(message.data) as DomainEvents[S], {
            messageId: message.headers?.get('Nats-Msg-Id'),
            redelivered: message.redelivered,
          });
          message.ack();
        } catch (error) {
          logger.warn({ err: error, subject: message.subject }, 'event handler failed; will be redelivered');
          message.nak(subscription.retryDelayMs ?? 1_000);
        }
      });
    }
  })();
  return {
    stop: async () => {
      await messages.close();
      await done;
    },
  };
}

export interface EventWatch<S extends EventSubject> {
  stream: string;
  /** A subject filter, wildcards allowed (`tokens.token.*`); it must match only subjects of `S`. */
  filter: string;
  handler: (event: { subject: S; payload: DomainEvents[S] }) => void | Promise<void>;
}

/**
 * Every event matching `filter` published from now on, to this process alone (an ephemeral,
 * ordered consumer per watcher), unlike `subscribeEvents`, whose replicas share a durable
 * consumer and so each see only some events. For what each replica keeps for itself, such as a
 * cache to refresh: delivery is best effort — a handler error is logged, not redelivered, and
 * events published while the process was away are not replayed — so keep a periodic refresh as
 * the fallback.
 */
export async function watchEvents<S extends EventSubject>(
  connection: NatsConnection,
  watch: EventWatch<S>,
  logger: Logger,
): Promise<{ stop: () => Promise<void> }> {
  const consumer = await connection.jetstream().consumers.get(watch.stream, { filterSubjects: watch.filter, deliver_policy: DeliverPolicy.New });
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const message of messages) {
      const requestId = requestIdFrom(message.headers?.get(REQUEST_ID_HEADER));
      await runWithRequestContext({ requestId }, async () => {
        try {
          await watch.handler({ subject: message.subject as S, payload: codec.decode(message.data) as DomainEvents[S] });
        } catch (error) {
          logger.warn({ err: error, subject: message.subject }, 'event watcher failed on an event');
        }
      });
    }
  })();
  return {
    stop: async () => {
      await messages.close();
      await done;
    },
  };
}
