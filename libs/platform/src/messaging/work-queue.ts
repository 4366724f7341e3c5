import { AckPolicy, DeliverPolicy, nanos, type Consumer, type NatsConnection } from 'nats';

export interface WorkConsumerSettings {
  stream: string;
  /** Durable consumer shared by every replica: each message goes to one of them. */
  durable: string;
  subject: string;
  /** Time a replica has to ack before JetStream hands the message to another (kept alive while working). */
  ackWaitMs: number;
  /** Messages delivered and not yet acked, over all replicas (JetStream max_ack_pending). */
  maxAckPending: number;
}

/**
 * The durable pull consumer of a work queue, created or brought up to date (ack wait, max ack
 * pending) by whichever replica starts first. The job kit's JobWorker pulls from it.
 */
export async function ensureWorkConsumer(connection: NatsConnection, options: WorkConsumerSettings): Promise<Consumer> {
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
