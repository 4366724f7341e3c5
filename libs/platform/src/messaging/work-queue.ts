import { BrokenCircuitError, CircuitBreaker, runBatch, sleep, type ConcurrencyMetricsListener } from '@batchgate/concurrency';
import type { DomainEvents, EventSubject } from '@batchgate/contracts';
import { AckPolicy, DeliverPolicy, JSONCodec, nanos, type Consumer, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { isDependencyUnreachable } from '../errors';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestContext } from '../context';

const codec = JSONCodec();

export interface WorkQueueConsumer<S extends EventSubject> {
  stream: string;
  /** Durable consumer shared by every replica: each message goes to one of them. */
  durable: string;
  subject: S;
  /** Messages handled at once by this replica. */
  concurrency: number;
  /** Messages delivered and not yet acked, over all replicas (JetStream max_ack_pending). */
  maxAckPending: number;
  /** Time a replica has to ack before JetStream hands the message to another (kept alive while working). */
  ackWaitMs: number;
  /**
   * Does the work. Returning acks the message; throwing leaves it for redelivery after `retryDelayMs`
   * (use it for infrastructure failures — record business failures and return). Must be idempotent:
   * a replica that dies before acking has its message redelivered. `stopping` aborts when the
   * consumer stops: a handler waiting for something (a database to come back) hands its message back.
   */
  handler: (payload: DomainEvents[S], meta: { redelivered: boolean; deliveryCount: number; stopping: AbortSignal }) => Promise<void>;
  retryDelayMs?: number;
  metrics?: ConcurrencyMetricsListener;
}

/**
 * The durable pull consumer of a work queue, created or brought up to date (ack wait, max ack
 * pending) by whichever replica starts first.
 */
export async function ensureWorkConsumer(
  connection: NatsConnection,
  options: Pick<WorkQueueConsumer<EventSubject>, 'stream' | 'durable' | 'subject' | 'ackWaitMs' | 'maxAckPending'>,
): Promise<Consumer> {
  const manager = await connection.jetstreamManager();
  const consumerConfig = {
    durable_name: options.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: options.subject,
    ack_wait: nanos(options.ackWaitMs),
    max_ack_pending: options.maxAckPending,
  };
  try {
    await manager.consumers.info(options.stream, options.durable);
    await manager.consumers.update(options.stream, options.durable, {
      ack_wait: consumerConfig.ack_wait,
      max_ack_pending: consumerConfig.max_ack_pending,
    });
  } catch {
    await manager.consumers.add(options.stream, consumerConfig);
  }
  return connection.jetstream().consumers.get(options.stream, options.durable);
}

/**
 * Consumes a JetStream work queue with bounded concurrency (the concurrency engine pulls a message
 * only when a slot is free, so a replica holds at most `concurrency` unacked messages), keeps long
 * work alive with `working()` heartbeats, and on stop finishes the messages in hand.
 *
 * When the handler keeps failing because a dependency (MySQL, another service) cannot be reached,
 * a circuit breaker pauses the queue: each slot keeps its message and waits for the breaker to
 * let a probe through, instead of taking and handing back every message of the queue in turn.
 */
export async function consumeWorkQueue<S extends EventSubject>(
  connection: NatsConnection,
  options: WorkQueueConsumer<S>,
  logger: Logger,
): Promise<{ stop: () => Promise<void> }> {
  const consumer = await ensureWorkConsumer(connection, options);
  const messages = await consumer.consume({ max_messages: options.concurrency });
  const heartbeatMs = Math.max(1_000, Math.floor(options.ackWaitMs / 3));

  const retryDelayMs = options.retryDelayMs ?? 2_000;
  const dependencies = new CircuitBreaker({
    name: `${options.durable}-dependencies`,
    consecutiveFailures: Math.max(3, options.concurrency),
    recoveryTimeMs: retryDelayMs,
    isFailure: (error) => isDependencyUnreachable(error),
    metrics: options.metrics,
  });
  dependencies.onStateChange(({ to }) => {
    if (to === 'open') logger.warn({ durable: options.durable }, 'work queue paused: a dependency cannot be reached');
    else if (to === 'closed') logger.info({ durable: options.durable }, 'work queue resumed');
  });
  const stopping = new AbortController();
  /** The pause of this queue, not a breaker inside the handler (whose error is the handler's). */
  const paused = (error: unknown): error is BrokenCircuitError =>
    error instanceof BrokenCircuitError && error.breakerName === dependencies.name;

  const run = runBatch(
    messages,
    async (message: JsMsg) => {
      const heartbeat = setInterval(() => message.working(), heartbeatMs);
      const requestId = requestIdFrom(message.headers?.get(REQUEST_ID_HEADER));
      const handle = () =>
        runWithRequestContext({ requestId }, () =>
          options.handler(codec.decode(message.data) as DomainEvents[S], {
            redelivered: message.redelivered,
            deliveryCount: message.info.redeliveryCount,
            stopping: stopping.signal,
          }),
        );
      try {
        for (;;) {
          try {
            await dependencies.execute(handle);
            message.ack();
            return;
          } catch (error) {
            if (!paused(error) || stopping.signal.aborted) throw error;
            // Paused: keep the message (the heartbeat keeps it ours) until a probe may run.
            await sleep(Math.max(error.retryAfterMs, 100), { signal: stopping.signal }).catch(() => undefined);
          }
        }
      } catch (error) {
        if (!paused(error)) {
          logger.warn({ err: error, subject: message.subject, requestId }, 'work item failed; it will be redelivered');
        }
        message.nak(stopping.signal.aborted ? 0 : retryDelayMs);
      } finally {
        clearInterval(heartbeat);
      }
    },
    { concurrency: options.concurrency, name: options.durable, metrics: options.metrics },
  );
  const finished = Promise.resolve(run).catch((error: unknown) => logger.error({ err: error }, 'work queue consumer stopped'));
  return {
    stop: async () => {
      // Messages waiting for a paused queue go back at once, for another replica.
      stopping.abort();
      await messages.close();
      await finished;
    },
  };
}
