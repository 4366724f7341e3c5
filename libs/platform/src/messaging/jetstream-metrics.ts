import type { NatsConnection } from 'nats';
import { Gauge, type Registry } from 'prom-client';

/**
 * JetStream's own state of the streams a service provisions, read when scraped: messages and
 * bytes per stream, and per durable consumer the messages waiting (`pending`), delivered and not
 * acknowledged (`ack_pending`) and redelivered. Every replica of every service using a stream
 * reports the same shared numbers; dashboards and rules take the max. While NATS is unreachable
 * the gauges keep their last values and /metrics still answers.
 */
export function registerJetStreamMetrics(registry: Registry, connection: NatsConnection, streams: readonly string[]): void {
  interface Snapshot {
    streams: Array<{ stream: string; messages: number; bytes: number }>;
    consumers: Array<{ stream: string; consumer: string; pending: number; ackPending: number; redelivered: number }>;
  }
  let snapshot: Promise<Snapshot | undefined> | undefined;
  const read = async (): Promise<Snapshot> => {
    const manager = await connection.jetstreamManager();
    const result: Snapshot = { streams: [], consumers: [] };
    for (const stream of streams) {
      const info = await manager.streams.info(stream);
      result.streams.push({ stream, messages: info.state.messages, bytes: info.state.bytes });
      for await (const consumer of manager.consumers.list(stream)) {
        result.consumers.push({
          stream,
          consumer: consumer.name,
          pending: consumer.num_pending,
          ackPending: consumer.num_ack_pending,
          redelivered: consumer.num_redelivered,
        });
      }
    }
    return result;
  };
  // One read serves every gauge of a scrape.
  const current = () => {
    snapshot ??= read()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (snapshot = undefined)));
    return snapshot;
  };
  const perStream = (name: string, help: string, value: (s: Snapshot['streams'][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream'],
      registers: [registry],
      async collect() {
        const now = await current();
        if (!now) return;
        this.reset();
        for (const stream of now.streams) this.set({ stream: stream.stream }, value(stream));
      },
    });
  const perConsumer = (name: string, help: string, value: (c: Snapshot['consumers'][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream', 'consumer'],
      registers: [registry],
      async collect() {
        const now = await current();
        if (!now) return;
        this.reset();
        for (const consumer of now.consumers) this.set({ stream: consumer.stream, consumer: consumer.consumer }, value(consumer));
      },
    });
  perStream('jetstream_stream_messages', 'Messages a JetStream stream holds', (s) => s.messages);
  perStream('jetstream_stream_bytes', 'Bytes a JetStream stream holds', (s) => s.bytes);
  perConsumer('jetstream_consumer_pending', 'Messages of the stream a durable consumer has not been delivered yet', (c) => c.pending);
  perConsumer('jetstream_consumer_ack_pending', 'Messages delivered to a durable consumer and not acknowledged yet', (c) => c.ackPending);
  perConsumer('jetstream_consumer_redelivered', 'Messages delivered to a durable consumer more than once, not yet acknowledged', (c) => c.redelivered);
}
