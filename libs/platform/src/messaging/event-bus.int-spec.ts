import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import pino from 'pino';
import type { TokenChanged } from '@batchgate/contracts/events/v1/events';
import { EVENT_STREAMS } from '@batchgate/contracts';
import { currentRequestId } from '../context';
import { EventPublisher, subscribeEvents, watchEvents } from './event-bus';
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

  it('watchEvents gives every watcher every new event of its filter, even when its handler fails', async () => {
    const provider = `watch${randomBytes(4).toString('hex')}`;
    const seen: Array<{ watcher: string; subject: string; tokenId: number }> = [];
    let allSeen: () => void = () => undefined;
    const fourSeen = new Promise<void>((resolve) => (allSeen = resolve));
    const watch = (watcher: string) =>
      watchEvents<'tokens.token.created' | 'tokens.token.retired'>(
        nats,
        {
          stream: 'TOKENS_EVENTS',
          filter: 'tokens.token.*',
          handler: ({ subject, payload }) => {
            if (payload.provider !== provider) return;
            seen.push({ watcher, subject, tokenId: payload.tokenId });
            if (seen.length === 4) allSeen();
            if (watcher === 'b') throw new Error('a failing watcher still gets the next event');
          },
        },
        pino({ level: 'silent' }),
      );
    const watchers = [await watch('a'), await watch('b')];
    const publisher = new EventPublisher(nats);
    const occurredAt = new Date().toISOString();
    await publisher.publish('tokens.token.created', { tokenId: 1, tenant: 'acme', provider, name: '', occurredAt }, { messageId: `${provider}-1` });
    await publisher.publish('tokens.token.retired', { tokenId: 2, tenant: 'acme', provider, reason: 'x', occurredAt }, { messageId: `${provider}-2` });
    await fourSeen;
    for (const watcher of ['a', 'b']) {
      expect(seen.filter((e) => e.watcher === watcher)).toEqual([
        { watcher, subject: 'tokens.token.created', tokenId: 1 },
        { watcher, subject: 'tokens.token.retired', tokenId: 2 },
      ]);
    }
    await Promise.all(watchers.map((w) => w.stop()));
  });
});
