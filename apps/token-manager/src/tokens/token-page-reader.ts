import type { DataSource } from 'typeorm';
import type { Token } from '@batchgate/contracts/tokens/v1/tokens';
import { preparedRows } from '@batchgate/platform/persistence';
import { shownTokenMessage, type ShownToken } from './token.mapper';

/** A listed row: what a token's message shows, with today's usage already counted by MySQL. */
type ListedTokenRow = ShownToken & { usedToday: number | string; pageTotal: number | string };

/**
 * The columns of a listed token, named as the entity's properties. Not the entity's every column:
 * the secret's ciphertext and fingerprint, the tenant and the deleted flag are never shown, and
 * each column costs parsing in mysql2 (its definition comes with every answer) and work in MySQL.
 * Usage counted on an earlier quota day is none (`usedToday`), compared as the usage reports
 * compare it (`usage_day` with the day's string).
 */
const LISTED_COLUMNS =
  'id, provider, name, secret_mask AS secretMask, status, daily_limit AS dailyLimit, IF(usage_day = ?, daily_used, 0) AS usedToday, ' +
  'rate_limit_per_second AS rateLimitPerSecond, expire_time AS expireTime, last_error AS lastError, created_at AS createdAt, updated_at AS updatedAt';

/**
 * A page of tokens and its total in one prepared statement: `SELECT <the listed columns>, (SELECT
 * COUNT(*) …) AS pageTotal FROM api_token <clauses>`. The page and a separate COUNT were two round
 * trips per list, each a socket write in token-manager and a statement in MySQL (a sixth of
 * token-manager's CPU on the paged list). Rows become messages as they are, without entities and
 * TypeORM's per-column hydration (mysql2 already gives dates as dates, the only conversion needed).
 */
export class TokenPageReader {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * `today`: the current quota day. `total` is a scalar subquery; `clauses` follow the table name;
   * `params`: the subquery's, then the clauses'.
   */
  async page(today: string, total: string, clauses: string, params: readonly unknown[]): Promise<{ tokens: Token[]; total: number | undefined }> {
    const sql = `SELECT ${LISTED_COLUMNS}, (${total}) AS pageTotal FROM api_token ${clauses}`;
    const rows = await preparedRows<ListedTokenRow>(this.dataSource, sql, [today, ...params]);
    return { tokens: rows.map((row) => shownTokenMessage(row, Number(row.usedToday))), total: rows[0] ? Number(rows[0].pageTotal) : undefined };
  }
}
