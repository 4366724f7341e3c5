import { DeliverPolicy, JSONCodec, type NatsConnection } from 'nats';

export interface StreamEvent<T> {
  seq: number;
  subject: string;
  payload: T;
  headers: Record<string, string>;
}

const codec = JSONCodec();

/** The stream's last sequence number now; read events after it to see only what a test caused. */
export async function streamLastSeq(connection: NatsConnection, stream: string): Promise<number> {
  const manager = await connection.jetstreamManager();
  return (await manager.streams.info(stream)).state.last_seq;
}

/**
 * Every message of `subject` stored in the stream after sequence `afterSeq`, as JSON. Reads up to
 * the stream's current end, so the answer is complete at the moment of the call.
 */
export async function readStreamEvents<T>(
  connection: NatsConnection,
  stream: string,
  subject: string,
  afterSeq: number,
): Promise<Array<StreamEvent<T>>> {
  const manager = await connection.jetstreamManager();
  // The last message of this subject bounds the read, so it never waits for messages that cannot come.
  const last = await manager.streams.getMessage(stream, { last_by_subj: subject }).catch(() => undefined);
  const lastSeq = last?.seq ?? 0;
  if (lastSeq <= afterSeq) return [];
  const consumer = await connection.jetstream().consumers.get(stream, {
    filterSubjects: subject,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: afterSeq + 1,
  });
  const events: Array<StreamEvent<T>> = [];
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 500, expires: 1_000 });
    let received = 0;
    for await (const message of batch) {
      received++;
      const headers: Record<string, string> = {};
      for (const key of message.headers?.keys() ?? []) headers[key.toLowerCase()] = message.headers?.get(key) ?? '';
      events.push({ seq: message.seq, subject: message.subject, payload: codec.decode(message.data) as T, headers });
      if (message.seq >= lastSeq) break;
    }
    if (received === 0 || (events.at(-1)?.seq ?? 0) >= lastSeq) return events;
  }
}
