import { connect, DiscardPolicy, nanos, RetentionPolicy, type NatsConnection, type StreamConfig } from 'nats';
import type { Logger } from 'pino';

export interface NatsSettings {
  url: string;
  /** Connection name shown by the NATS server (`nats server report connections`). */
  name: string;
}

/**
 * Connects to NATS and keeps reconnecting for ever after a drop (a NATS restart must not take a
 * service down). The first connection must succeed: a service that never reached NATS is not
 * started, and says so.
 */
export async function connectNats(settings: NatsSettings, logger: Logger): Promise<NatsConnection> {
  const connection = await connect({
    servers: settings.url,
    name: settings.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    pingInterval: 10_000,
    // Without this nats.js builds an Error (and its stack) on every publish, request and pull,
    // only to give a failure the caller's frames (bench/jobs/README.md); a failure still says
    // what failed.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
        logger.warn({ nats: status.type, data: String(status.data) }, 'NATS connection status');
      }
    }
  })();
  return connection;
}

export interface StreamDefinition {
  name: string;
  subjects: readonly string[];
  /** `limits` keeps events for every consumer; `workqueue` hands each message to one consumer. */
  retention: 'limits' | 'workqueue';
}

/** Bounds of every stream, so none grows without limit (SPEC §2.5). */
export interface StreamLimits {
  /** How long JetStream remembers a message id: a re-publish within it is dropped as a duplicate. */
  duplicateWindowMs: number;
  /** Events (`limits` streams) older than this are deleted; work queues never expire work. */
  eventMaxAgeMs: number;
  /** Most bytes a stream keeps. A full event stream drops its oldest events; a full work queue
   * refuses new work (the outbox keeps it and publishes it once workers have made room). */
  maxBytes: number;
}

/** Defaults of the limits (the services' environment can change each). */
export const STREAM_LIMIT_DEFAULTS: StreamLimits = {
  duplicateWindowMs: 600_000,
  eventMaxAgeMs: 7 * 86_400_000,
  maxBytes: 1024 ** 3,
};

/**
 * Creates or updates JetStream streams with their limits. `duplicate_window` bounds how long
 * JetStream remembers a message id: an outbox row re-published within it (after a crash between
 * publish and marking the row) is dropped as a duplicate.
 */
export async function ensureStreams(connection: NatsConnection, streams: readonly StreamDefinition[], limits: StreamLimits): Promise<void> {
  const manager = await connection.jetstreamManager();
  for (const stream of streams) {
    const workQueue = stream.retention === 'workqueue';
    const config: Partial<StreamConfig> = {
      name: stream.name,
      subjects: [...stream.subjects],
      retention: workQueue ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      duplicate_window: nanos(limits.duplicateWindowMs),
      max_age: workQueue ? 0 : nanos(limits.eventMaxAgeMs),
      max_bytes: limits.maxBytes,
      discard: workQueue ? DiscardPolicy.New : DiscardPolicy.Old,
    };
    try {
      await manager.streams.info(stream.name);
      // Retention cannot change on an existing stream; everything else is brought up to date.
      const { retention: _retention, ...updatable } = config;
      await manager.streams.update(stream.name, updatable);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await manager.streams.add(config);
    }
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}
