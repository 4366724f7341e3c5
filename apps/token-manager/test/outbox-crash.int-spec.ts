import { status as GrpcStatus } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import type { TokenCreated } from '@batchgate/contracts/events/v1/events';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient } from '@batchgate/platform/grpc';
import {
  queryTestDatabase,
  readStreamEvents,
  startTestStack,
  streamLastSeq,
  testServiceCredentials,
  waitFor,
  type TestStack,
} from '@batchgate/testing';

const STREAM = 'TOKENS_EVENTS';

/**
 * The outbox's promise, shown with real processes: token-manager is SIGKILLed by its test hook
 * (a) after the DB commit and before the publish, (b) after the publish and before the row is
 * marked. After a restart the token.created event is on NATS exactly once in both cases.
 */
describe('transactional outbox survives a crash of token-manager', () => {
  let nats: NatsConnection;
  let stack: TestStack | undefined;

  beforeAll(async () => {
    nats = await connect({ servers: 'nats://127.0.0.1:4222' });
  });
  afterAll(async () => nats.close());
  // A fresh stack per case: each crash starts from an empty outbox.
  afterEach(async () => stack?.stop());

  const databaseName = () => stack?.database('token-manager').name ?? '';

  /** Sends CreateToken; the answer may be lost to the crash, the commit is not. */
  const sendCreateToken = async (provider: string) => {
    const { client, close } = createGrpcClient<TokenManagerServiceClient>({
      proto: 'tokens',
      service: TOKEN_MANAGER_SERVICE_NAME,
      url: stack?.url('token-manager', 'grpc') ?? '',
      deadlineMs: 5_000,
      registry: new Registry(),
      credentials: testServiceCredentials,
    });
    try {
      await lastValueFrom(
        client.createToken({ tenant: 'acme', provider, name: 'crash', secret: 'secret-value-123', dailyLimit: 0, rateLimitPerSecond: 0, expireTime: '' }),
      ).catch((error: { code?: number }) => {
        if (error.code !== GrpcStatus.UNAVAILABLE) throw error;
      });
    } finally {
      close();
    }
  };

  const eventsFor = async (provider: string, afterSeq: number) =>
    (await readStreamEvents<TokenCreated>(nats, STREAM, 'tokens.token.created', afterSeq)).filter(
      (event) => event.payload.provider === provider,
    );

  it.each(['before-publish', 'after-publish'] as const)('crash %s: the event arrives exactly once after restart', async (crashPoint) => {
    const provider = `crash${randomBytes(4).toString('hex')}`;
    const seqBefore = await streamLastSeq(nats, STREAM);
    stack = await startTestStack({ processes: ['token-manager'], env: { 'token-manager': { OUTBOX_TEST_CRASH: crashPoint } } });
    const crashing = stack.process('token-manager');

    await sendCreateToken(provider);
    expect(await crashing.exited).toBe('SIGKILL');
    expect(crashing.output()).toContain(`outbox test hook: killing the process at ${crashPoint}`);

    // The state change is committed whatever happened to the event.
    const rows = await queryTestDatabase<{ id: string }>(databaseName(), 'SELECT id FROM api_token WHERE provider = ?', [provider]);
    expect(rows).toHaveLength(1);
    const tokenId = Number(rows[0]?.id);
    const publishedBeforeRestart = await eventsFor(provider, seqBefore);
    expect(publishedBeforeRestart).toHaveLength(crashPoint === 'before-publish' ? 0 : 1);

    await stack.restart('token-manager', 0, { OUTBOX_TEST_CRASH: 'none' });
    {
      await waitFor(
        async () => {
          const [pending] = await queryTestDatabase<{ n: number }>(
            databaseName(),
            'SELECT COUNT(*) AS n FROM outbox_event WHERE published_at IS NULL',
          );
          return Number(pending?.n) === 0 ? true : undefined;
        },
        { what: 'outbox drained' },
      );
      const events = await eventsFor(provider, seqBefore);
      expect(events).toHaveLength(1);
      expect(events[0]?.payload).toMatchObject({ tokenId, provider });
    }
  });
});
