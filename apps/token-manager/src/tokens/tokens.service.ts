import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type {
  CreateTokenRequest,
  ListTokensRequest,
  ListTokensResponse,
  ReportUsageResponse,
  Token,
  TokenLease,
  UpdateTokenRequest,
} from '@batchgate/contracts/tokens/v1/tokens';
import { TokenStatus } from '@batchgate/contracts/tokens/v1/tokens';
import { Outbox } from '@batchgate/platform/messaging';
import { ApiTokenEntity, ApiTokenStatus } from './api-token.entity';
import { maskSecret, SecretCipher } from './secret-cipher';
import { toStoredStatus, toTokenMessage, usedToday } from './token.mapper';
import { QuotaCalendar } from './usage-day';
import { invalidTokenField, tokenNotFound } from './tokens.errors';

export const MAX_PAGE_SIZE = 100;
/** One call's slot at 1 call/s, in µs, with a 5 % margin: a call that leaves up to 50 ms late still keeps the provider within its rate. */
const SLOT_MICROS = 1_050_000;
const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

/** Owns `api_token`: encrypted secrets, limits, usage; every change is announced through the outbox. */
@Injectable()
export class TokensService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Outbox) private readonly outbox: Outbox,
    @Inject(SecretCipher) private readonly cipher: SecretCipher,
    @Inject(QuotaCalendar) private readonly calendar: QuotaCalendar,
  ) {}

  /** The wire shape of a row, with today's usage. */
  toMessage(row: ApiTokenEntity): Token {
    return toTokenMessage(row, this.calendar.today());
  }

  async create(request: CreateTokenRequest): Promise<Token> {
    const provider = validProvider(request.provider);
    if (request.name.length > 100) throw invalidTokenField('name', 'must be at most 100 characters');
    if (request.secret.length < 1 || request.secret.length > 512) {
      throw invalidTokenField('secret', 'must be 1-512 characters');
    }
    const dailyLimit = validCount('dailyLimit', request.dailyLimit, 1_000_000_000);
    const rateLimitPerSecond = validCount('rateLimitPerSecond', request.rateLimitPerSecond, 100_000);
    const expireTime = validExpireTime(request.expireTime);

    return this.outbox.transaction(async ({ manager, emit }) => {
      const inserted = await manager.insert(ApiTokenEntity, {
        provider,
        name: request.name,
        secretEncrypted: '',
        secretMask: maskSecret(request.secret),
        dailyLimit,
        rateLimitPerSecond,
        expireTime,
      });
      const id = String(inserted.identifiers[0]?.['id']);
      // The row id is the cipher's additional data, so the secret is encrypted once the id exists.
      await manager.update(ApiTokenEntity, { id }, { secretEncrypted: this.cipher.encrypt(request.secret, id) });
      const row = await this.findLive(manager, Number(id));
      await emit('tokens.token.created', {
        tokenId: Number(id),
        provider,
        name: row.name,
        occurredAt: new Date().toISOString(),
      });
      return this.toMessage(row);
    });
  }

  async list(request: ListTokensRequest): Promise<ListTokensResponse> {
    const page = Math.max(1, request.page?.page || 1);
    const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, request.page?.pageSize || 20));
    const query = this.dataSource
      .getRepository(ApiTokenEntity)
      .createQueryBuilder('t')
      .where('t.deleted = 0')
      .orderBy('t.id', 'DESC')
      .skip((page - 1) * pageSize)
      .take(pageSize);
    if (request.provider) query.andWhere('t.provider = :provider', { provider: request.provider });
    if (request.status !== TokenStatus.TOKEN_STATUS_UNSPECIFIED) {
      const status = toStoredStatus(request.status);
      if (status === undefined) throw invalidTokenField('status', 'is not a token status');
      query.andWhere('t.status = :status', { status });
    }
    const [rows, total] = await query.getManyAndCount();
    return { tokens: rows.map((row) => this.toMessage(row)), page: { page, pageSize, total } };
  }

  async update(request: UpdateTokenRequest): Promise<Token> {
    const changes: Partial<ApiTokenEntity> = {};
    if (request.status !== undefined) {
      const status = toStoredStatus(request.status);
      if (status === undefined) throw invalidTokenField('status', 'is not a token status');
      changes.status = status;
    }
    if (request.dailyLimit !== undefined) changes.dailyLimit = validCount('dailyLimit', request.dailyLimit, 1_000_000_000);
    if (request.rateLimitPerSecond !== undefined) {
      changes.rateLimitPerSecond = validCount('rateLimitPerSecond', request.rateLimitPerSecond, 100_000);
    }
    if (request.expireTime !== undefined) changes.expireTime = validExpireTime(request.expireTime);
    if (Object.keys(changes).length === 0) throw invalidTokenField('update', 'must change at least one field');

    return this.outbox.transaction(async ({ manager, emit }) => {
      const before = await this.findLive(manager, request.id, true);
      await manager.update(ApiTokenEntity, { id: before.id }, { ...changes, updatedAt: () => 'CURRENT_TIMESTAMP(3)' });
      const after = await this.findLive(manager, request.id);
      await emit('tokens.token.changed', {
        tokenId: request.id,
        provider: after.provider,
        change: Object.keys(changes).join(','),
        occurredAt: new Date().toISOString(),
      });
      return this.toMessage(after);
    });
  }

  async softDelete(id: number): Promise<void> {
    await this.outbox.transaction(async ({ manager, emit }) => {
      const row = await this.findLive(manager, id, true);
      await manager.update(ApiTokenEntity, { id: row.id }, { deleted: 1, updatedAt: () => 'CURRENT_TIMESTAMP(3)' });
      await emit('tokens.token.changed', {
        tokenId: id,
        provider: row.provider,
        change: 'deleted',
        occurredAt: new Date().toISOString(),
      });
    });
  }

  /** The seed's filter: active, not deleted, not expired, and quota left (or unlimited). */
  async available(provider: string): Promise<ApiTokenEntity[]> {
    return this.dataSource
      .getRepository(ApiTokenEntity)
      .createQueryBuilder('t')
      .where('t.provider = :provider', { provider: validProvider(provider) })
      .andWhere('t.status = :active AND t.deleted = 0', { active: ApiTokenStatus.Active })
      .andWhere('(t.expire_time IS NULL OR t.expire_time > UTC_TIMESTAMP())')
      .andWhere('(t.daily_limit = 0 OR t.usage_day IS NULL OR t.usage_day <> :today OR t.daily_used < t.daily_limit)', {
        today: this.calendar.today(),
      })
      .orderBy('t.daily_used', 'ASC')
      .addOrderBy('t.id', 'ASC')
      .getMany();
  }

  async lease(provider: string, maxTokens: number): Promise<TokenLease[]> {
    const rows = await this.available(provider);
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
   * Reserves `count` calls of a token, in one conditional UPDATE, so concurrent callers on any
   * number of replicas can never push daily_used past daily_limit (a read-modify-write would lose
   * updates):
   * - usage from an earlier quota day is reset in the same statement (MySQL applies SET
   *   assignments left to right, so daily_used reads the old usage_day);
   * - the calls get the token's next time slots (`next_call_at`, spaced 1/rate apart with a 5 %
   *   margin for network jitter), and the caller is told how long to wait for its slot: the rate
   *   limit holds across every caller, not just within one process.
   * The report that reaches the limit announces the token as exhausted.
   */
  async reportUsage(id: number, count: number): Promise<ReportUsageResponse> {
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
      throw invalidTokenField('count', 'must be an integer between 1 and 1000000');
    }
    const today = this.calendar.today();
    return this.outbox.transaction(async ({ manager, emit }) => {
      const result = (await manager.query(
        `UPDATE api_token
            SET daily_used = IF(usage_day <=> ?, daily_used, 0) + ?,
                usage_day = ?,
                next_call_at = IF(rate_limit_per_second = 0, NULL,
                  GREATEST(COALESCE(next_call_at, NOW(6)), NOW(6)) + INTERVAL (? * ${SLOT_MICROS} DIV rate_limit_per_second) MICROSECOND),
                updated_at = CURRENT_TIMESTAMP(3)
          WHERE id = ? AND deleted = 0 AND (daily_limit = 0 OR IF(usage_day <=> ?, daily_used, 0) + ? <= daily_limit)`,
        [today, count, today, count, id, today, count],
      )) as { affectedRows: number };
      const row = await this.findLive(manager, id);
      const accepted = result.affectedRows === 1;
      const used = usedToday(row, today);
      const exhausted = row.dailyLimit > 0 && used >= row.dailyLimit;
      let waitMs = 0;
      if (accepted && row.rateLimitPerSecond > 0) {
        const [slot] = (await manager.query(
          `SELECT TIMESTAMPDIFF(MICROSECOND, NOW(6), next_call_at) - (? * ${SLOT_MICROS} DIV rate_limit_per_second) AS waitMicros
             FROM api_token WHERE id = ?`,
          [count, id],
        )) as Array<{ waitMicros: string | number }>;
        waitMs = Math.max(0, Math.ceil(Number(slot?.waitMicros ?? 0) / 1_000));
      }
      if (accepted && exhausted) {
        await emit('tokens.token.exhausted', {
          tokenId: id,
          provider: row.provider,
          dailyLimit: row.dailyLimit,
          occurredAt: new Date().toISOString(),
        });
      }
      return { accepted, dailyUsed: used, dailyLimit: row.dailyLimit, exhausted, waitMs };
    });
  }

  async retire(id: number, reason: string): Promise<Token> {
    const lastError = reason.slice(0, 500);
    return this.outbox.transaction(async ({ manager, emit }) => {
      const before = await this.findLive(manager, id, true);
      await manager.update(
        ApiTokenEntity,
        { id: before.id },
        { status: ApiTokenStatus.Retired, lastError, updatedAt: () => 'CURRENT_TIMESTAMP(3)' },
      );
      if (before.status !== ApiTokenStatus.Retired) {
        await emit('tokens.token.retired', {
          tokenId: id,
          provider: before.provider,
          reason: lastError,
          occurredAt: new Date().toISOString(),
        });
      }
      return this.toMessage(await this.findLive(manager, id));
    });
  }

  private async findLive(manager: EntityManager, id: number, lock = false): Promise<ApiTokenEntity> {
    const row = await manager.findOne(ApiTokenEntity, {
      where: { id: String(id), deleted: 0 },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!row) throw tokenNotFound(id);
    return row;
  }
}

function validProvider(provider: string): string {
  if (!PROVIDER_PATTERN.test(provider)) {
    throw invalidTokenField('provider', 'must be 1-64 letters, digits, ".", "_" or "-"');
  }
  return provider.toLowerCase();
}

function validCount(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw invalidTokenField(field, `must be an integer between 0 and ${max}`);
  }
  return value;
}

function validExpireTime(value: string): Date | null {
  if (value === '') return null;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw invalidTokenField('expireTime', 'must be an RFC 3339 date-time');
  return parsed;
}
