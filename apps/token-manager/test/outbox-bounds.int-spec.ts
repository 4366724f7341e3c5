import { randomBytes } from 'node:crypto';
import { AckPolicy, connect, DiscardPolicy, nanos, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import type { TokenCreated } from '@batchgate/contracts/events/v1/events';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { STREAM_LIMIT_DEFAULTS } from '@batchgate/platform/messaging';
import {
  readMetric,
  readStreamEvents,
  startTestStack,
  streamLastSeq,
  testServiceCredentials,
  waitFor,
  type TestDatabase,
  type TestStack,
} from '@batchgate/testing';

/**
 * Nothing of the messaging grows without bound (SPEC §2.5): published outbox rows are deleted after
 * their retention, the event stream has an age and a size limit, and the outbox's backlog and
 * relay lag are exported for the BatchgateOutboxBacklog alert.
 */
describe('outbox and stream bounds of token-manager', () => {
  let database: TestDatabase;
  let nats: NatsConnection;
  let stack: TestStack;
  let client: ReturnType<typeof createGrpcClient<TokenManagerServiceClient>>;
  let metricsUrl: string;

  beforeAll(async () => {
    nats = await connect({ servers: 'nats://127.0.0.1:4222' });
    stack = await startTestStack({ processes: ['token-manager'], env: { 'token-manager': { OUTBOX_RETENTION_MS: '0' } } });
    database = stack.database('token-manager');
    metricsUrl = `${stack.url('token-manager', 'ops')}/metrics`;
    client = createGrpcClient<TokenManagerServiceClient>({
      proto: 'tokens',
      service: TOKEN_MANAGER_SERVICE_NAME,
      url: stack.url('token-manager', 'grpc'),
      deadlineMs: 5_000,
      registry: new Registry(),
      credentials: testServiceCredentials,
    });
  }, 60_000);
  afterAll(async () => {
    client.close();
    await nats.close();
    await stack.stop();
  });

  it('publishes an event, counts it, then deletes its row once the retention has passed', async () => {
    const provider = `bounds${randomBytes(4).toString('hex')}`;
    const seqBefore = await streamLastSeq(nats, 'TOKENS_EVENTS');
    await lastValueFrom(client.client.createToken({ tenant: 'acme', provider, name: '', secret: 'bounds-secret-1234', dailyLimit: 0, rateLimitPerSecond: 0, expireTime: '' }));

    const published = await waitFor(
      async () => {
        const events = await readStreamEvents<TokenCreated>(nats, 'TOKENS_EVENTS', 'tokens.token.created', seqBefore);
        return events.some((event) => event.payload.provider === provider) ? true : undefined;
      },
      { what: 'token.created on the stream' },
    );
    expect(published).toBe(true);
    const rowsLeft = async () => Number((await database.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox_event'))[0]?.n);
    await waitFor(async () => ((await rowsLeft()) === 0 ? true : undefined), { what: 'the published row deleted', timeoutMs: 5_000 });
    expect(await readMetric(metricsUrl, 'outbox_events_published_total')).toBeGreaterThanOrEqual(1);
    expect(await readMetric(metricsUrl, 'outbox_relay_lag_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(await readMetric(metricsUrl, 'outbox_pending_events')).toBe(0);
    expect(await readMetric(metricsUrl, 'outbox_oldest_pending_age_seconds')).toBe(0);
  });

  it('exports the backlog: how many events wait and since when', async () => {
    // An event whose subject no stream takes cannot be published, so it stays pending.
    await database.query(
      `INSERT INTO outbox_event (event_id, subject, payload, created_at) VALUES (UUID(), 'unrouted.subject', '{}', NOW(3) - INTERVAL 120 SECOND)`,
    );
    try {
      const pending = await waitFor(async () => ((await readMetric(metricsUrl, 'outbox_pending_events')) === 1 ? 1 : undefined), { what: 'backlog of 1' });
      expect(pending).toBe(1);
      expect(await readMetric(metricsUrl, 'outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(120);
    } finally {
      await database.query(`DELETE FROM outbox_event WHERE subject = 'unrouted.subject'`);
    }
  });

  it("exports JetStream's state of its streams and their consumers", async () => {
    const durable = `bounds_${randomBytes(4).toString('hex')}`;
    const manager = await nats.jetstreamManager();
    await manager.consumers.add('TOKENS_EVENTS', { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: 'tokens.token.created' });
    try {
      const pending = await readMetric(metricsUrl, 'jetstream_consumer_pending', { stream: 'TOKENS_EVENTS', consumer: durable });
      // The first test published a token.created event that this new consumer has not been given.
      expect(pending).toBeGreaterThanOrEqual(1);
      expect(await readMetric(metricsUrl, 'jetstream_consumer_ack_pending', { stream: 'TOKENS_EVENTS', consumer: durable })).toBe(0);
      expect(await readMetric(metricsUrl, 'jetstream_stream_messages', { stream: 'TOKENS_EVENTS' })).toBeGreaterThanOrEqual(pending ?? 1);
    } finally {
      await manager.consumers.delete('TOKENS_EVENTS', durable);
    }
  });

  it('keeps events a bounded time and size', async () => {
    const { config } = await (await nats.jetstreamManager()).streams.info('TOKENS_EVENTS');
    expect(config).toMatchObject({
      max_age: nanos(STREAM_LIMIT_DEFAULTS.eventMaxAgeMs),
      max_bytes: STREAM_LIMIT_DEFAULTS.maxBytes,
      discard: DiscardPolicy.Old,
    });
  });
});
