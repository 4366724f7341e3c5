import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource, IsNull, QueryFailedError, type EntityManager } from 'typeorm';
import type {
  CreateTokenRequest,
  ListTokensRequest,
  ListTokensResponse,
  ReleaseUsageResponse,
  ReportUsageResponse,
  Token,
  TokenLease,
  UpdateTokenRequest,
} from '@batchgate/contracts/tokens/v1/tokens';
import { TokenStatus } from '@batchgate/contracts/tokens/v1/tokens';
import { callerTenant } from '@batchgate/platform/errors';
import { Outbox } from '@batchgate/platform/messaging';
import { LOGGER } from '@batchgate/platform/nest';
import { pageInfo, pageWindow } from '@batchgate/platform/paging';
import { preparedRows } from '@batchgate/platform/persistence';
import { ApiTokenEntity, ApiTokenStatus } from './api-token.entity';
import { maskSecret, SecretCipher } from './secret-cipher';
import { toStoredStatus, toTokenMessage, usedToday } from './token.mapper';
import { TokenPageReader } from './token-page-reader';
import { QuotaCalendar } from './usage-day';
import { tokenManagerErrors } from '../token-manager.errors';

/**
 * One call's slot at 1 call/s, in µs, with a 2 % margin: calls of different replicas booked back
 * to back keep the provider within its rate even when one leaves up to 20 ms after its slot (each
 * replica also paces its own calls by their actual start times).
 */
const SLOT_MICROS = 1_020_000;
/**
 * Extra time before the slots of a holder that follows another on the same token (5 % of the
 * provider's 1 s window): each holder paces its own calls by when the provider counted them, but
 * cannot see how late the other's last calls arrived.
 */
const HOLDER_CHANGE_MICROS = 50_000;
/** Calls one ReportUsage/ReleaseUsage may reserve or give back. */
const MAX_USAGE_COUNT = 1_000_000;

interface UsageRow {
  provider: string;
  status: number;
  dailyLimit: number;
  dailyUsed: number;
  usageDay: string | null;
  rate: number;
  expired: number | string;
  /** Time from now to the end of the booked slots (negative once they have passed; null: never booked). */
  slotsAheadMicros: number | string | null;
  slotHolder: string | null;
}
const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

/**
 * Owns `api_token`: encrypted secrets, limits, usage; every change is announced through the outbox.
 * Every query names the caller's tenant: another tenant's token is not found, and a pool (lease,
 * available tokens) is the tenant's tokens of one provider.
 */
@Injectable()
export class TokensService implements OnApplicationBootstrap {
  /** The list is the hot read: one prepared statement, no query builder. */
  private readonly pageReader: TokenPageReader;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Outbox) private readonly outbox: Outbox,
    @Inject(SecretCipher) private readonly cipher: SecretCipher,
    @Inject(QuotaCalendar) private readonly calendar: QuotaCalendar,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.pageReader = new TokenPageReader(dataSource);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.fingerprintLegacyRows();
  }

  /**
   * Gives tokens stored before secrets were fingerprinted their fingerprint and the current mask,
   * decrypting each of them once (idempotent; replicas starting together write the same values).
   * A token whose secret another live token of the tenant and provider already has keeps no
   * fingerprint: both stay, and the duplicate is logged for an admin to delete.
   */
  async fingerprintLegacyRows(): Promise<void> {
    const repository = this.dataSource.getRepository(ApiTokenEntity);
    for (const row of await repository.find({ where: { secretHash: IsNull() }, order: { id: 'ASC' } })) {
      try {
        const secret = this.cipher.decrypt(row.secretEncrypted, row.id);
        await repository.update({ id: row.id }, { secretMask: maskSecret(secret) });
        await repository.update({ id: row.id, secretHash: IsNull() }, { secretHash: this.cipher.fingerprint(secret) });
      } catch (error) {
        this.logger.warn(
          { err: error, tokenId: row.id, tenant: row.tenant, provider: row.provider },
          'token left without a secret fingerprint (its secret is stored twice, or it does not decrypt with this key)',
        );
      }
    }
  }

  /** The wire shape of a row, with today's usage. */
  toMessage(row: ApiTokenEntity): Token {
    return toTokenMessage(row, this.calendar.today());
  }

  async create(request: CreateTokenRequest): Promise<Token> {
    const tenant = callerTenant(request.tenant);
    const provider = validProvider(request.provider);
    if (request.name.length > 100) throw tokenManagerErrors.invalidTokenField('name', 'must be at most 100 characters');
    if (request.secret.length < 1 || request.secret.length > 512) {
      throw tokenManagerErrors.invalidTokenField('secret', 'must be 1-512 characters');
    }
    const dailyLimit = validCount('dailyLimit', request.dailyLimit, 1_000_000_000);
    const rateLimitPerSecond = validCount('rateLimitPerSecond', request.rateLimitPerSecond, 100_000);
    const expireTime = validExpireTime(request.expireTime);

    const secretHash = this.cipher.fingerprint(request.secret);
    return this.outbox.transaction(async ({ manager, emit }) => {
      await this.refuseStoredSecret(manager, tenant, provider, secretHash);
      const inserted = await manager
        .insert(ApiTokenEntity, {
          tenant,
          provider,
          name: request.name,
          secretEncrypted: '',
          secretMask: maskSecret(request.secret),
          secretHash,
          dailyLimit,
          rateLimitPerSecond,
          expireTime,
        })
        .catch(async (error: unknown) => {
          // Another create of the same secret committed between the check and this insert.
          if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === 'ER_DUP_ENTRY') {
            await this.refuseStoredSecret(this.dataSource.manager, tenant, provider, secretHash);
          }
          throw error;
        });
      const id = String(inserted.identifiers[0]?.['id']);
      // The row id is the cipher's additional data, so the secret is encrypted once the id exists.
      await manager.update(ApiTokenEntity, { id }, { secretEncrypted: this.cipher.encrypt(request.secret, id) });
      const row = await this.findLive(manager, tenant, Number(id));
      await emit('tokens.token.created', {
        tokenId: Number(id),
        tenant,
        provider,
        name: row.name,
        occurredAt: new Date().toISOString(),
      });
      return this.toMessage(row);
    });
  }

  /** ALREADY_EXISTS when a live token of the tenant and provider has this secret (deleted ones do not count). */
  private async refuseStoredSecret(manager: EntityManager, tenant: string, provider: string, secretHash: string): Promise<void> {
    const [stored] = (await manager.query('SELECT id FROM api_token WHERE tenant = ? AND provider = ? AND live_secret_hash = ?', [
      tenant,
      provider,
      secretHash,
    ])) as Array<{ id: string }>;
    if (stored) throw tokenManagerErrors.secretAlreadyStored(provider, String(stored.id));
  }

  async list(request: ListTokensRequest): Promise<ListTokensResponse> {
    const tenant = callerTenant(request.tenant);
    const window = pageWindow(request.page);
    let where = 'WHERE tenant = ? AND deleted = 0';
    const params: unknown[] = [tenant];
    if (request.provider) {
      where += ' AND provider = ?';
      params.push(request.provider);
    }
    if (request.status !== TokenStatus.TOKEN_STATUS_UNSPECIFIED) {
      const status = toStoredStatus(request.status);
      if (status === undefined) throw tokenManagerErrors.invalidTokenField('status', 'is not a token status');
      where += ' AND status = ?';
      params.push(status);
    }
    const found = await this.pageReader.page(this.calendar.today(), where, params, window);
    // A page past the end has no row to carry the total.
    const total =
      found.total ??
      Number((await preparedRows<{ total: number | string }>(this.dataSource, `SELECT COUNT(*) AS total FROM api_token ${where}`, params))[0]?.total ?? 0);
    return { tokens: found.tokens, page: pageInfo(window, total) };
  }

  async update(request: UpdateTokenRequest): Promise<Token> {
    const tenant = callerTenant(request.tenant);
    const changes: Partial<ApiTokenEntity> = {};
    if (request.status !== undefined) {
      const status = toStoredStatus(request.status);
      if (status === undefined) throw tokenManagerErrors.invalidTokenField('status', 'is not a token status');
      changes.status = status;
    }
    if (request.dailyLimit !== undefined) changes.dailyLimit = validCount('dailyLimit', request.dailyLimit, 1_000_000_000);
    if (request.rateLimitPerSecond !== undefined) {
      changes.rateLimitPerSecond = validCount('rateLimitPerSecond', request.rateLimitPerSecond, 100_000);
    }
    if (request.expireTime !== undefined) changes.expireTime = validExpireTime(request.expireTime);
    if (Object.keys(changes).length === 0) throw tokenManagerErrors.invalidTokenField('update', 'must change at least one field');

    return this.outbox.transaction(async ({ manager, emit }) => {
      const before = await this.findLive(manager, tenant, request.id, true);
      await manager.update(ApiTokenEntity, { id: before.id }, { ...changes, updatedAt: () => 'CURRENT_TIMESTAMP(3)' });
      const after = await this.findLive(manager, tenant, request.id);
      await emit('tokens.token.changed', {
        tokenId: request.id,
        tenant,
        provider: after.provider,
        change: Object.keys(changes).join(','),
        occurredAt: new Date().toISOString(),
      });
      return this.toMessage(after);
    });
  }

  async softDelete(tenantOfCaller: string, id: number): Promise<void> {
    const tenant = callerTenant(tenantOfCaller);
    await this.outbox.transaction(async ({ manager, emit }) => {
      const row = await this.findLive(manager, tenant, id, true);
      await manager.update(ApiTokenEntity, { id: row.id }, { deleted: 1, updatedAt: () => 'CURRENT_TIMESTAMP(3)' });
      await emit('tokens.token.changed', {
        tokenId: id,
        tenant,
        provider: row.provider,
        change: 'deleted',
        occurredAt: new Date().toISOString(),
      });
    });
  }

  /** The tenant's pool of a provider, by the seed's filter: active, not deleted, not expired, and quota left (or unlimited). */
  async available(tenant: string, provider: string): Promise<ApiTokenEntity[]> {
    return this.dataSource
      .getRepository(ApiTokenEntity)
      .createQueryBuilder('t')
      .where('t.tenant = :tenant AND t.provider = :provider', { tenant: callerTenant(tenant), provider: validProvider(provider) })
      .andWhere('t.status = :active AND t.deleted = 0', { active: ApiTokenStatus.Active })
      .andWhere('(t.expire_time IS NULL OR t.expire_time > UTC_TIMESTAMP(3))')
      .andWhere('(t.daily_limit = 0 OR t.usage_day IS NULL OR t.usage_day <> :today OR t.daily_used < t.daily_limit)', {
        today: this.calendar.today(),
      })
      .orderBy('t.daily_used', 'ASC')
      .addOrderBy('t.id', 'ASC')
      .getMany();
  }

  async lease(tenant: string, provider: string, maxTokens: number): Promise<TokenLease[]> {
    const rows = await this.available(tenant, provider);
    const chosen = maxTokens > 0 ? rows.slice(0, maxTokens) : rows;
    const today = this.calendar.today();
    return chosen.map((row) => ({
      tokenId: Number(row.id),
      secret: this.cipher.decrypt(row.secretEncrypted, row.id),
      rateLimitPerSecond: row.rateLimitPerSecond,
      remainingQuota: row.dailyLimit === 0 ? -1 : row.dailyLimit - usedToday(row, today),
    }));
  }

  /**
   * Reserves `count` calls of a token (with `partial`, as many as its quota has left, at least
   * one) before they are made, so concurrent callers on any number of replicas can never push
   * daily_used past daily_limit: the row is locked (SELECT … FOR UPDATE) for the read and the
   * write, as a read-modify-write without the lock loses updates.
   * - usage from an earlier quota day counts as zero (the lazy daily reset);
   * - the granted calls get the token's next time slots (`next_call_at`, spaced 1/rate apart with
   *   a margin), and the caller is told how long to wait for the first: the rate limit holds
   *   across every caller, not just within one process;
   * - a disabled, retired or expired token grants nothing.
   * The reservation that reaches the limit announces the token as exhausted.
   */
  async reportUsage(tenantOfCaller: string, id: number, count: number, partial = false, holder = ''): Promise<ReportUsageResponse> {
    const tenant = callerTenant(tenantOfCaller);
    validCount('count', count, MAX_USAGE_COUNT, 1);
    const today = this.calendar.today();
    return this.outbox.transaction(async ({ manager, emit }) => {
      const [row] = (await manager.query(
        `SELECT provider, status, daily_limit AS dailyLimit, daily_used AS dailyUsed, DATE_FORMAT(usage_day, '%Y-%m-%d') AS usageDay,
                rate_limit_per_second AS rate, expire_time IS NOT NULL AND expire_time <= NOW(3) AS expired,
                TIMESTAMPDIFF(MICROSECOND, SYSDATE(6), next_call_at) AS slotsAheadMicros, slot_holder AS slotHolder
           FROM api_token WHERE id = ? AND tenant = ? AND deleted = 0 FOR UPDATE`,
        [id, tenant],
      )) as UsageRow[];
      // SYSDATE, not NOW: NOW is when the statement started, before it waited for the row lock.
      if (!row) throw tokenManagerErrors.tokenNotFound(id);
      const used = row.usageDay === today ? row.dailyUsed : 0;
      const left = row.dailyLimit === 0 ? count : Math.max(0, row.dailyLimit - used);
      const usable = row.status === ApiTokenStatus.Active && !Number(row.expired);
      const granted = !usable || left < (partial ? 1 : count) ? 0 : Math.min(count, left);
      const refused = { accepted: false, dailyUsed: used, dailyLimit: row.dailyLimit, exhausted: row.dailyLimit > 0 && used >= row.dailyLimit };
      if (granted === 0) return { ...refused, waitMs: 0, granted: 0, slotMicros: 0 };

      const slotMicros = row.rate > 0 ? Math.ceil(SLOT_MICROS / row.rate) : 0;
      // Another holder's booked slots reaching into the last window push ours back by the gap.
      const slotsAhead = row.slotsAheadMicros === null ? -Infinity : Number(row.slotsAheadMicros);
      const gapMicros = slotMicros > 0 && (row.slotHolder ?? '') !== holder && slotsAhead > -1_000_000 ? HOLDER_CHANGE_MICROS : 0;
      const waitMicros = Math.max(0, slotsAhead) + gapMicros;
      await manager.query(
        `UPDATE api_token
            SET daily_used = ?, usage_day = ?,
                next_call_at = IF(? = 0, NULL, GREATEST(COALESCE(next_call_at, NOW(6)), NOW(6)) + INTERVAL ? MICROSECOND),
                slot_holder = ?,
                updated_at = CURRENT_TIMESTAMP(3)
          WHERE id = ?`,
        [used + granted, today, slotMicros, gapMicros + granted * slotMicros, holder || null, id],
      );
      const dailyUsed = used + granted;
      const exhausted = row.dailyLimit > 0 && dailyUsed >= row.dailyLimit;
      if (exhausted) {
        await emit('tokens.token.exhausted', {
          tokenId: id,
          tenant,
          provider: row.provider,
          dailyLimit: row.dailyLimit,
          occurredAt: new Date().toISOString(),
        });
      }
      const waitMs = slotMicros > 0 ? Math.ceil(waitMicros / 1_000) : 0;
      return { accepted: true, dailyUsed, dailyLimit: row.dailyLimit, exhausted, waitMs, granted, slotMicros };
    });
  }

  /**
   * Gives back reserved calls that were not made. Only today's usage is reduced (calls reserved
   * before the quota day changed were already forgotten by the reset), never below zero.
   */
  async releaseUsage(tenantOfCaller: string, id: number, count: number): Promise<ReleaseUsageResponse> {
    const tenant = callerTenant(tenantOfCaller);
    validCount('count', count, MAX_USAGE_COUNT, 1);
    const today = this.calendar.today();
    await this.dataSource.query(
      `UPDATE api_token SET daily_used = GREATEST(0, daily_used - ?), updated_at = CURRENT_TIMESTAMP(3)
        WHERE id = ? AND tenant = ? AND deleted = 0 AND usage_day <=> ?`,
      [count, id, tenant, today],
    );
    const row = await this.findLive(this.dataSource.manager, tenant, id);
    return { dailyUsed: usedToday(row, today) };
  }

  async retire(tenantOfCaller: string, id: number, reason: string): Promise<Token> {
    const tenant = callerTenant(tenantOfCaller);
    const lastError = reason.slice(0, 500);
    return this.outbox.transaction(async ({ manager, emit }) => {
      const before = await this.findLive(manager, tenant, id, true);
      await manager.update(
        ApiTokenEntity,
        { id: before.id },
        { status: ApiTokenStatus.Retired, lastError, updatedAt: () => 'CURRENT_TIMESTAMP(3)' },
      );
      if (before.status !== ApiTokenStatus.Retired) {
        await emit('tokens.token.retired', {
          tokenId: id,
          tenant,
          provider: before.provider,
          reason: lastError,
          occurredAt: new Date().toISOString(),
        });
      }
      return this.toMessage(await this.findLive(manager, tenant, id));
    });
  }

  /** The tenant's token: one of another tenant is not found, as if it did not exist. */
  private async findLive(manager: EntityManager, tenant: string, id: number, lock = false): Promise<ApiTokenEntity> {
    const row = await manager.findOne(ApiTokenEntity, {
      where: { id: String(id), tenant, deleted: 0 },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!row) throw tokenManagerErrors.tokenNotFound(id);
    return row;
  }
}

function validProvider(provider: string): string {
  if (!PROVIDER_PATTERN.test(provider)) {
    throw tokenManagerErrors.invalidTokenField('provider', 'must be 1-64 letters, digits, ".", "_" or "-"');
  }
  return provider.toLowerCase();
}

function validCount(field: string, value: number, max: number, min = 0): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw tokenManagerErrors.invalidTokenField(field, `must be an integer between ${min} and ${max}`);
  }
  return value;
}

function validExpireTime(value: string): Date | null {
  if (value === '') return null;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw tokenManagerErrors.invalidTokenField('expireTime', 'must be an RFC 3339 date-time');
  return parsed;
}
