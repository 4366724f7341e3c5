import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import pino from 'pino';
import type { TokenChanged } from '@batchgate/contracts/events/v1/events';
import { EVENT_STREAMS } from '@batchgate/contracts';
import { currentRequestId } from '../logging';
import { EventPublisher, subscribeEvents } from './event-bus';
import { ensureStreams, STREAM_LIMIT_DEFAULTS } from './nats-connection';

/** Typed publish/subscribe over the real NATS JetStream on loopback. */
describe('EventPublisher and subscribeEvents', () => {
  let nats: NatsConnection;
  const durable = `test_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    nats = await connect({ servers: 'nats://127.0.0.1:4222' });
    await ensureStreams(nats, EVENT_STREAMS, STREAM_LIMIT_DEFAULTS);
  });
  afterAll(async () => {
    await (await nats.jetstreamManager()).consumers.delete('TOKENS_EVENTS', durable).catch(() => undefined);
    await nats.close();
  });

  it('drops a repeated message id, redelivers after a failing handler, and carries the request id', async () => {
    const provider = `bus${randomBytes(4).toString('hex')}`;
    const publisher = new EventPublisher(nats);
    const event: TokenChanged = { tokenId: 1, tenant: 'acme', provider, change: 'status', occurredAt: new Date().toISOString() };
    const messageId = `test-${provider}`;
    const first = await publisher.publish('tokens.token.changed', event, { messageId, requestId: 'req-bus-1' });
    const repeat = await publisher.publish('tokens.token.changed', event, { messageId, requestId: 'req-bus-1' });
    expect(first.duplicate).toBe(false);
    expect(repeat.duplicate).toBe(true);
    expect(repeat.seq).toBe(first.seq);

    const deliveries: Array<{ redelivered: boolean; requestId?: string }> = [];
    let failOnce = true;
    const done = new Promise<void>((resolve) => {
      void subscribeEvents(
        nats,
        {
          stream: 'TOKENS_EVENTS',
          durable,
          subject: 'tokens.token.changed',
          retryDelayMs: 50,
          handler: async (payload, meta) => {
            if (payload.provider !== provider) return;
            deliveries.push({ redelivered: meta.redelivered, requestId: currentRequestId() });
            if (failOnce) {
              failOnce = false;
              throw new Error('transient');
            }
            resolve();
          },
        },
        pino({ level: 'silent' }),
      ).then((subscription) => done.finally(() => subscription.stop()));
    });
    await done;
    expect(deliveries).toEqual([
      { redelivered: false, requestId: 'req-bus-1' },
      { redelivered: true, requestId: 'req-bus-1' },
    ]);
  });
});
