import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { Registry } from 'prom-client';
import { TOKEN_MANAGER_SERVICE_NAME, TokenStatus, type Token, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient, ServiceCredentials } from '@batchgate/platform/grpc';
import type { TokenCreated, TokenExhausted, TokenRetired } from '@batchgate/contracts/events/v1/events';
import { queryTestDatabase, readStreamEvents, streamLastSeq, waitFor } from '@batchgate/testing';
import { DEVELOPMENT_ENCRYPTION_KEY } from '../src/config/token-manager.config';
import { SecretCipher } from '../src/tokens/secret-cipher';
import { TokensService } from '../src/tokens/tokens.service';
import { startTokenManager, type TokenManagerUnderTest } from './token-manager.harness';

const STREAM = 'TOKENS_EVENTS';
const TENANT = 'acme';

describe('token-manager over gRPC with MySQL and NATS', () => {
  let tm: TokenManagerUnderTest;
  let provider: string;
  let seqBefore: number;

  beforeAll(async () => {
    tm = await startTokenManager();
    seqBefore = await streamLastSeq(tm.nats, STREAM);
  });
  afterAll(async () => tm.close());
  beforeEach(() => {
    provider = `p${randomBytes(4).toString('hex')}`;
  });

  // Each token its own secret (a tenant stores a provider's secret once), all ending in "cdef".
  let secrets = 0;
  const nextSecret = () => `sk-live-${String(++secrets).padStart(4, '0')}-0123456789abcdef`;
  const create = (overrides: Partial<Parameters<TokenManagerUnderTest['client']['createToken']>[0]> = {}) =>
    lastValueFrom(
      tm.client.createToken({
        tenant: TENANT,
        provider,
        name: 'primary',
        secret: nextSecret(),
        dailyLimit: 0,
        rateLimitPerSecond: 5,
        expireTime: '',
        ...overrides,
      }),
    );

  const grpcError = async (call: Promise<unknown>) => {
    const error = (await call.then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; metadata: Metadata } | undefined;
    if (!error) throw new Error('expected the call to fail');
    return { code: error.code, machineCode: error.metadata.get('x-error-code')[0] };
  };

  it('refuses a caller whose service credential is not signed with the deployment secret (UNAUTHENTICATED)', async () => {
    const intruder = createGrpcClient<TokenManagerServiceClient>({
      proto: 'tokens',
      service: TOKEN_MANAGER_SERVICE_NAME,
      url: tm.grpcUrl,
      deadlineMs: 5_000,
      registry: new Registry(),
      credentials: new ServiceCredentials('intruder', 'a-secret-that-is-long-enough-but-not-ours'),
    });
    try {
      expect(await grpcError(lastValueFrom(intruder.client.leaseTokens({ tenant: TENANT, provider, maxTokens: 0 })))).toEqual({
        code: GrpcStatus.UNAUTHENTICATED,
        machineCode: 'SERVICE.UNAUTHENTICATED',
      });
    } finally {
      intruder.close();
    }
  });

  it('stores the secret encrypted with the row id as additional data and answers with a mask only', async () => {
    const secret = nextSecret();
    const token = await create({ secret });
    expect(token.secretMask).toBe('…cdef');
    expect(JSON.stringify(token)).not.toContain('0123456789');

    const [row] = await queryTestDatabase<{ id: string; secret_encrypted: string }>(
      tm.database.name,
      'SELECT id, secret_encrypted FROM api_token WHERE id = ?',
      [token.id],
    );
    expect(row?.secret_encrypted).not.toContain('0123456789');
    const cipher = new SecretCipher(DEVELOPMENT_ENCRYPTION_KEY);
    expect(cipher.decrypt(String(row?.secret_encrypted), String(token.id))).toBe(secret);
    expect(() => cipher.decrypt(String(row?.secret_encrypted), String(token.id + 1))).toThrow();
  });

  it('announces a created token exactly once on NATS through the outbox', async () => {
    const token = await create();
    const events = await waitFor(
      async () => {
        const all = await readStreamEvents<TokenCreated>(tm.nats, STREAM, 'tokens.token.created', seqBefore);
        const mine = all.filter((e) => e.payload.provider === provider);
        return mine.length > 0 ? mine : undefined;
      },
      { what: 'token.created event' },
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.payload).toMatchObject({ tenant: TENANT, tokenId: token.id, provider, name: 'primary' });
    const [outbox] = await queryTestDatabase<{ published: number }>(
      tm.database.name,
      'SELECT COUNT(*) AS published FROM outbox_event WHERE published_at IS NOT NULL AND subject = ?',
      ['tokens.token.created'],
    );
    expect(Number(outbox?.published)).toBeGreaterThanOrEqual(1);
  });

  it('lists newest first, paged, filtered by provider and status, secrets masked', async () => {
    const created: Token[] = [];
    for (let i = 0; i < 3; i++) created.push(await create({ name: `t${i}` }));
    await lastValueFrom(tm.client.retireToken({ tenant: TENANT, tokenId: created[0]?.id ?? 0, reason: 'revoked' }));

    const page1 = await lastValueFrom(
      tm.client.listTokens({ tenant: TENANT, provider, status: TokenStatus.TOKEN_STATUS_UNSPECIFIED, page: { page: 1, pageSize: 2 } }),
    );
    expect(page1.page).toEqual({ page: 1, pageSize: 2, total: 3 });
    expect(page1.tokens.map((t) => t.name)).toEqual(['t2', 't1']);
    expect(page1.tokens.every((t) => t.secretMask === '…cdef')).toBe(true);

    const active = await lastValueFrom(
      tm.client.listTokens({ tenant: TENANT, provider, status: TokenStatus.TOKEN_STATUS_ACTIVE, page: { page: 1, pageSize: 10 } }),
    );
    expect(active.tokens.map((t) => t.name)).toEqual(['t2', 't1']);
    expect(active.page?.total).toBe(2);

    // The last page's rows carry the total too; a page past the end has none and still says it.
    const last = await lastValueFrom(
      tm.client.listTokens({ tenant: TENANT, provider, status: TokenStatus.TOKEN_STATUS_UNSPECIFIED, page: { page: 2, pageSize: 2 } }),
    );
    expect(last.tokens.map((t) => t.name)).toEqual(['t0']);
    expect(last.page?.total).toBe(3);
    const beyond = await lastValueFrom(
      tm.client.listTokens({ tenant: TENANT, provider, status: TokenStatus.TOKEN_STATUS_UNSPECIFIED, page: { page: 5, pageSize: 2 } }),
    );
    expect(beyond).toMatchObject({ tokens: [], page: { page: 5, pageSize: 2, total: 3 } });

    // An oversized page is refused as the gateway refuses it, not clamped to fewer rows than asked.
    const oversized = tm.client.listTokens({ tenant: TENANT, provider, status: TokenStatus.TOKEN_STATUS_UNSPECIFIED, page: { page: 1, pageSize: 101 } });
    expect(await grpcError(lastValueFrom(oversized))).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, machineCode: 'REQUEST.INVALID_PAGE' });
  });

  it("lists each token as the token's other answers show it: today's usage only, expiry, last error, status", async () => {
    const counted = await create({ name: 'counted', dailyLimit: 10, expireTime: '2099-06-30T12:34:56.000Z' });
    const stale = await create({ name: 'stale', dailyLimit: 10 });
    const retired = await create({ name: 'retired' });
    const report = (tokenId: number, count: number) =>
      lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId, count, partial: false, holder: '' }));
    await report(counted.id, 3);
    await report(stale.id, 2);
    // The stale token's calls were counted yesterday: none of them count today.
    await queryTestDatabase(tm.database.name, 'UPDATE api_token SET usage_day = DATE_SUB(usage_day, INTERVAL 1 DAY) WHERE id = ?', [stale.id]);
    const retiredAnswer = await lastValueFrom(tm.client.retireToken({ tenant: TENANT, tokenId: retired.id, reason: 'provider said 401' }));

    const listed = await lastValueFrom(
      tm.client.listTokens({ tenant: TENANT, provider, status: TokenStatus.TOKEN_STATUS_UNSPECIFIED, page: { page: 1, pageSize: 10 } }),
    );
    const available = await lastValueFrom(tm.client.getAvailableTokens({ tenant: TENANT, provider }));
    const byId = new Map([...available.tokens, retiredAnswer].map((token) => [token.id, token]));
    expect(listed.tokens.map((token) => token.id)).toEqual([retired.id, stale.id, counted.id]);
    for (const token of listed.tokens) expect(token).toEqual(byId.get(token.id));
    expect(listed.tokens.map((token) => [token.name, token.dailyUsed, token.expireTime, token.lastError, token.status])).toEqual([
      ['retired', 0, '', 'provider said 401', TokenStatus.TOKEN_STATUS_RETIRED],
      ['stale', 0, '', '', TokenStatus.TOKEN_STATUS_ACTIVE],
      ['counted', 3, '2099-06-30T12:34:56.000Z', '', TokenStatus.TOKEN_STATUS_ACTIVE],
    ]);
    expect(listed.tokens.every((token) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(token.createdAt) && token.updatedAt >= token.createdAt)).toBe(true);
  });

  it('rejects bad input with INVALID_ARGUMENT and a machine code, and unknown ids with NOT_FOUND', async () => {
    expect(await grpcError(create({ provider: 'bad provider!' }))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      machineCode: 'TOKEN.INVALID_ARGUMENT',
    });
    expect(await grpcError(create({ dailyLimit: -1 }))).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    expect(await grpcError(lastValueFrom(tm.client.retireToken({ tenant: TENANT, tokenId: 987654321, reason: 'x' })))).toEqual({
      code: GrpcStatus.NOT_FOUND,
      machineCode: 'TOKEN.NOT_FOUND',
    });
  });

  it('never lets concurrent usage reports push daily_used past daily_limit', async () => {
    const token = await create({ dailyLimit: 50 });
    const answers = await Promise.all(
      Array.from({ length: 80 }, () => lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 1, partial: false, holder: '' }))),
    );
    expect(answers.filter((a) => a.accepted)).toHaveLength(50);
    const [row] = await queryTestDatabase<{ daily_used: number }>(
      tm.database.name,
      'SELECT daily_used FROM api_token WHERE id = ?',
      [token.id],
    );
    expect(row?.daily_used).toBe(50);
    const exhausted = await waitFor(async () => {
      const all = await readStreamEvents<TokenExhausted>(tm.nats, STREAM, 'tokens.token.exhausted', seqBefore);
      const mine = all.filter((e) => e.payload.tokenId === token.id && e.payload.provider === provider);
      return mine.length > 0 ? mine : undefined;
    });
    expect(exhausted).toHaveLength(1);
    const available = await lastValueFrom(tm.client.getAvailableTokens({ tenant: TENANT, provider }));
    expect(available.tokens.map((t) => t.id)).not.toContain(token.id);
  });

  it('resets daily usage when the quota day changes (lazily, in the same conditional update)', async () => {
    const token = await create({ dailyLimit: 2 });
    await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 2, partial: false, holder: '' }));
    expect((await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 1, partial: false, holder: '' }))).accepted).toBe(false);
    expect((await lastValueFrom(tm.client.getAvailableTokens({ tenant: TENANT, provider }))).tokens).toEqual([]);

    // The counted day is yesterday now: the quota has reset.
    await queryTestDatabase(tm.database.name, 'UPDATE api_token SET usage_day = DATE_SUB(usage_day, INTERVAL 1 DAY) WHERE id = ?', [
      token.id,
    ]);
    const available = await lastValueFrom(tm.client.getAvailableTokens({ tenant: TENANT, provider }));
    expect(available.tokens.map((t) => [t.id, t.dailyUsed])).toEqual([[token.id, 0]]);
    expect(await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 1, partial: false, holder: '' }))).toMatchObject({
      accepted: true,
      dailyUsed: 1,
      dailyLimit: 2,
      exhausted: false,
    });
  });

  it('books each reserved call its own slot under the token rate limit, shared by all callers', async () => {
    const token = await create({ rateLimitPerSecond: 10 });
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 1, partial: false, holder: '' }))),
    );
    const waits = answers.map((a) => a.waitMs).sort((a, b) => a - b);
    // Four calls booked at once get slots 1/10 s (+2 % margin) apart: 0, 102, 204, 306 ms, less the
    // few milliseconds between the bookings themselves.
    expect(waits[0]).toBe(0);
    for (let i = 1; i < waits.length; i++) {
      expect((waits[i] ?? 0) - (waits[i - 1] ?? 0)).toBeGreaterThan(60);
      expect((waits[i] ?? 0) - (waits[i - 1] ?? 0)).toBeLessThanOrEqual(103);
    }
    expect(answers.every((a) => a.granted === 1 && a.slotMicros === 102_000)).toBe(true);
    const unlimited = await create({ rateLimitPerSecond: 0 });
    expect((await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: unlimited.id, count: 5, partial: false, holder: '' }))).waitMs).toBe(0);
  });

  it('grants what the quota has left when partial, books the granted calls back to back, and takes unused calls back', async () => {
    const token = await create({ dailyLimit: 7, rateLimitPerSecond: 5 });
    const first = await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 5, partial: true, holder: '' }));
    expect(first).toMatchObject({ accepted: true, granted: 5, dailyUsed: 5, waitMs: 0, slotMicros: 204_000 });
    // The next calls' slots start after the five just booked (5 × 204 ms), less the time since.
    const second = await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 5, partial: true, holder: '' }));
    expect(second).toMatchObject({ accepted: true, granted: 2, dailyUsed: 7, exhausted: true });
    expect(second.waitMs).toBeGreaterThan(900);
    expect(second.waitMs).toBeLessThanOrEqual(1_020);
    expect(await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 1, partial: true, holder: '' }))).toMatchObject({ accepted: false, granted: 0 });

    expect(await lastValueFrom(tm.client.releaseUsage({ tenant: TENANT, tokenId: token.id, count: 3 }))).toEqual({ dailyUsed: 4 });
    expect(await lastValueFrom(tm.client.releaseUsage({ tenant: TENANT, tokenId: token.id, count: 10 }))).toEqual({ dailyUsed: 0 });
    expect(await grpcError(lastValueFrom(tm.client.releaseUsage({ tenant: TENANT, tokenId: token.id, count: 0 })))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      machineCode: 'TOKEN.INVALID_ARGUMENT',
    });
  });

  it("starts a holder's slots a gap after another holder's recent slots, not after its own", async () => {
    const token = await create({ rateLimitPerSecond: 10 });
    // A wait counts from when token-manager answered, some time between sending and receiving.
    const reserve = async (holder: string) => {
      const sentAt = Date.now();
      const { waitMs } = await lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId: token.id, count: 10, partial: true, holder }));
      return { waitMs, sentAt, answeredAt: Date.now() };
    };
    expect((await reserve('replica-a')).waitMs).toBe(0);
    const sameHolder = await reserve('replica-a'); // right after A's ten slots: ~1 020 ms
    const otherHolder = await reserve('replica-b'); // after A's next ten, plus the 50 ms gap
    expect(sameHolder.waitMs).toBeGreaterThan(950);
    expect(sameHolder.waitMs).toBeLessThanOrEqual(1_020);
    // B's first slot after A's second ten by 1 020 + 50 ms, on the client's clock: within what
    // the two calls' send and answer times allow (on a slow machine the second call came later).
    const earliestGap = otherHolder.sentAt + otherHolder.waitMs - (sameHolder.answeredAt + sameHolder.waitMs);
    const latestGap = otherHolder.answeredAt + otherHolder.waitMs - (sameHolder.sentAt + sameHolder.waitMs);
    expect(latestGap).toBeGreaterThan(1_020 + 50 - 30);
    expect(earliestGap).toBeLessThanOrEqual(1_020 + 50 + 1);
  });

  it('grants nothing on a token that is retired or past its expiry time', async () => {
    const useOne = (tokenId: Token['id']) => lastValueFrom(tm.client.reportUsage({ tenant: TENANT, tokenId, count: 1, partial: false, holder: '' }));
    const expiresAt = Date.now() + 3_000;
    // A rate well above the polling's, so that no grant's slot is pushed past the expiry.
    const expiring = await create({ expireTime: new Date(expiresAt).toISOString(), rateLimitPerSecond: 100 });
    const retired = await create({});
    await lastValueFrom(tm.client.retireToken({ tenant: TENANT, tokenId: retired.id, reason: 'revoked' }));
    expect(await useOne(retired.id)).toMatchObject({ accepted: false, granted: 0 });
    // Granted while it is valid, so that the refusal below is its expiry and nothing else.
    expect(await useOne(expiring.id)).toMatchObject({ accepted: true, granted: 1 });
    const refused = await waitFor(
      async () => {
        const usage = await useOne(expiring.id);
        return usage.accepted ? undefined : { usage, at: Date.now() };
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the token to expire' },
    );
    expect(refused.usage).toMatchObject({ accepted: false, granted: 0 });
    expect(refused.at).toBeGreaterThanOrEqual(expiresAt);
  });

  it('retires a token once: excluded from leases, one token.retired event', async () => {
    const keepSecret = nextSecret();
    const keep = await create({ name: 'keep', dailyLimit: 10, secret: keepSecret });
    const drop = await create({ name: 'drop' });
    await lastValueFrom(tm.client.retireToken({ tenant: TENANT, tokenId: drop.id, reason: 'provider said 401' }));
    const again = await lastValueFrom(tm.client.retireToken({ tenant: TENANT, tokenId: drop.id, reason: 'provider said 401' }));
    expect(again.status).toBe(TokenStatus.TOKEN_STATUS_RETIRED);
    expect(again.lastError).toBe('provider said 401');

    const leases = await lastValueFrom(tm.client.leaseTokens({ tenant: TENANT, provider, maxTokens: 0 }));
    expect(leases.leases).toEqual([
      { tokenId: keep.id, secret: keepSecret, rateLimitPerSecond: 5, remainingQuota: 10 },
    ]);
    const retired = await waitFor(async () => {
      const all = await readStreamEvents<TokenRetired>(tm.nats, STREAM, 'tokens.token.retired', seqBefore);
      const mine = all.filter((e) => e.payload.provider === provider);
      return mine.length > 0 ? mine : undefined;
    });
    expect(retired.map((e) => e.payload.tokenId)).toEqual([drop.id]);
  });

  it("keeps each tenant's tokens to itself: another tenant's id is NOT_FOUND and changes nothing, pools are per tenant", async () => {
    const ours = await create({ name: 'ours', dailyLimit: 10 });
    const theirs = await create({ tenant: 'globex', name: 'theirs', secret: 'sk-globex-secret-9876' });
    const notFound = { code: GrpcStatus.NOT_FOUND, machineCode: 'TOKEN.NOT_FOUND' };
    const asGlobex = { tenant: 'globex', tokenId: ours.id };
    expect(await grpcError(lastValueFrom(tm.client.updateToken({ tenant: 'globex', id: ours.id, dailyLimit: 99 })))).toEqual(notFound);
    expect(await grpcError(lastValueFrom(tm.client.deleteToken({ tenant: 'globex', id: ours.id })))).toEqual(notFound);
    expect(await grpcError(lastValueFrom(tm.client.retireToken({ ...asGlobex, reason: 'x' })))).toEqual(notFound);
    expect(await grpcError(lastValueFrom(tm.client.reportUsage({ ...asGlobex, count: 1, partial: false, holder: '' })))).toEqual(notFound);
    expect(await grpcError(lastValueFrom(tm.client.releaseUsage({ ...asGlobex, count: 1 })))).toEqual(notFound);

    const [row] = await queryTestDatabase<{ tenant: string; status: number; deleted: number; daily_limit: number; daily_used: number }>(
      tm.database.name,
      'SELECT tenant, status, deleted, daily_limit, daily_used FROM api_token WHERE id = ?',
      [ours.id],
    );
    expect(row).toEqual({ tenant: TENANT, status: 1, deleted: 0, daily_limit: 10, daily_used: 0 });

    const list = (tenant: string) =>
      lastValueFrom(tm.client.listTokens({ tenant, provider, status: TokenStatus.TOKEN_STATUS_UNSPECIFIED, page: { page: 1, pageSize: 100 } }));
    expect((await list(TENANT)).tokens.map((t) => t.id)).toEqual([ours.id]);
    expect((await list('globex')).tokens.map((t) => t.id)).toEqual([theirs.id]);
    expect((await lastValueFrom(tm.client.leaseTokens({ tenant: 'globex', provider, maxTokens: 0 }))).leases.map((l) => l.tokenId)).toEqual([theirs.id]);
    expect((await lastValueFrom(tm.client.getAvailableTokens({ tenant: TENANT, provider }))).tokens.map((t) => t.id)).toEqual([ours.id]);

    // Events name the tenant whose pool changed.
    const created = await waitFor(async () => {
      const all = await readStreamEvents<TokenCreated>(tm.nats, STREAM, 'tokens.token.created', seqBefore);
      const mine = all.filter((e) => e.payload.provider === provider);
      return mine.length === 2 ? mine : undefined;
    });
    expect(created.map((e) => [e.payload.tokenId, e.payload.tenant])).toEqual([
      [ours.id, TENANT],
      [theirs.id, 'globex'],
    ]);

    // A caller that names no tenant is refused, never served rows that belong to nobody.
    expect(await grpcError(lastValueFrom(tm.client.leaseTokens({ tenant: '', provider, maxTokens: 0 })))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      machineCode: 'REQUEST.INVALID_TENANT',
    });
  });

  it('refuses a secret the tenant already stored for the provider (ALREADY_EXISTS), until that token is deleted', async () => {
    const secret = nextSecret();
    const first = await create({ secret });
    const conflict = { code: GrpcStatus.ALREADY_EXISTS, machineCode: 'TOKEN.ALREADY_EXISTS' };
    expect(await grpcError(create({ secret, name: 'again' }))).toEqual(conflict);
    // Concurrent creates of one secret: exactly one is stored (the unique index decides the race).
    const other = nextSecret();
    const raced = await Promise.allSettled(Array.from({ length: 4 }, () => create({ secret: other })));
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    // Another provider, or another tenant, may hold the same secret.
    await create({ secret, provider: `${provider}x` });
    await create({ secret, tenant: 'globex' });
    // A deleted token's secret may be stored again.
    await lastValueFrom(tm.client.deleteToken({ tenant: TENANT, id: first.id }));
    const again = await create({ secret, name: 'again' });
    expect(again.id).not.toBe(first.id);
    const [row] = await queryTestDatabase<{ secret_hash: string }>(tm.database.name, 'SELECT secret_hash FROM api_token WHERE id = ?', [again.id]);
    expect(row?.secret_hash).toBe(new SecretCipher(DEVELOPMENT_ENCRYPTION_KEY).fingerprint(secret));
    expect(row?.secret_hash).not.toContain(secret.slice(-8));
  });

  it('fingerprints and re-masks tokens stored before secrets had fingerprints', async () => {
    const secret = nextSecret();
    const legacy = await create({ secret });
    await queryTestDatabase(tm.database.name, "UPDATE api_token SET secret_hash = NULL, secret_mask = '…ef' WHERE id = ?", [legacy.id]);
    expect(await create({ secret })).toMatchObject({ secretMask: '…cdef' }); // not comparable yet
    await tm.service.app.get(TokensService).fingerprintLegacyRows();
    const rows = await queryTestDatabase<{ id: string; secret_hash: string | null; secret_mask: string }>(
      tm.database.name,
      'SELECT id, secret_hash, secret_mask FROM api_token WHERE provider = ? ORDER BY id',
      [provider],
    );
    // The legacy row keeps no fingerprint: its secret is stored twice now, and both rows stay.
    expect(rows.map((r) => [Number(r.id) === legacy.id, r.secret_hash === null, r.secret_mask])).toEqual([
      [true, true, '…cdef'],
      [false, false, '…cdef'],
    ]);
    const lone = await create({ secret: nextSecret() });
    await queryTestDatabase(tm.database.name, "UPDATE api_token SET secret_hash = NULL, secret_mask = '…ef' WHERE id = ?", [lone.id]);
    await tm.service.app.get(TokensService).fingerprintLegacyRows();
    const [fingerprinted] = await queryTestDatabase<{ secret_hash: string | null; secret_mask: string }>(
      tm.database.name,
      'SELECT secret_hash, secret_mask FROM api_token WHERE id = ?',
      [lone.id],
    );
    expect(fingerprinted).toEqual({ secret_hash: expect.stringMatching(/^[0-9a-f]{64}$/), secret_mask: '…cdef' });
  });

  it('serves readiness and RED metrics on its ops port', async () => {
    const ready = await fetch(`${tm.opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { mysql: 'up', nats: 'up' } });
    const metrics = await (await fetch(`${tm.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/grpc_server_handled_total\{method="\/tokens\.v1\.TokenManagerService\/CreateToken",code="OK",service="token-manager"\} \d+/);
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });
});
