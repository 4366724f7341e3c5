import type { DataSource } from 'typeorm';
import type { Token } from '@batchgate/contracts/tokens/v1/tokens';
import type { PageWindow } from '@batchgate/platform/paging';
import { isoTimestampSql, preparedRows } from '@batchgate/platform/persistence';
import { shownTokenMessage, type ShownToken } from './token.mapper';

/** A listed row: what a token's message shows, with today's usage already counted by MySQL. */
type ListedTokenRow = ShownToken & { usedToday: number; pageTotal: number };

/**
 * The columns of a listed token, named as the entity's properties. Not the entity's every column:
 * the secret's ciphertext and fingerprint, the tenant and the deleted flag are never shown, and
 * each column costs parsing in mysql2 (its definition comes with every answer) and work in MySQL.
 * Usage counted on an earlier quota day is none (`usedToday`), compared as the usage reports
 * compare it (`usage_day` with the day's string). The id (and the total) as DOUBLE: mysql2 reads a
 * BIGINT as a string through the long package (`supportBigNumbers`), 2-3 % of token-manager's CPU
 * on a page, for what the message holds as a number anyway (exact below 2^53). The timestamps as
 * the message's ISO strings, formatted by MariaDB (isoTimestampSql).
 */
const LISTED_COLUMNS =
  'CAST(id AS DOUBLE) AS id, provider, name, secret_mask AS secretMask, status, daily_limit AS dailyLimit, ' +
  'IF(usage_day = ?, daily_used, 0) AS usedToday, rate_limit_per_second AS rateLimitPerSecond, ' +
  `${isoTimestampSql('expire_time')} AS expireTime, last_error AS lastError, ` +
  `${isoTimestampSql('created_at')} AS createdAt, ${isoTimestampSql('updated_at')} AS updatedAt`;

/**
 * A page of tokens, newest first, and their total in one prepared statement: `SELECT <the listed
 * columns>, (SELECT COUNT(*) …) AS pageTotal FROM api_token WHERE … ORDER BY id DESC LIMIT ?
 * OFFSET ?`. The page and a separate COUNT were two round trips per list, each a socket write in
 * token-manager and a statement in MySQL (a sixth of token-manager's CPU on the paged list). Rows
 * become messages as they are, without entities and TypeORM's per-column hydration (mysql2 already
 * reads the timestamps as the strings the message holds).
 */
export class TokenPageReader {
  constructor(private readonly dataSource: DataSource) {}

  /** `today`: the current quota day; `where` (the page's and the total's) takes `params`. */
  async page(today: string, where: string, params: readonly unknown[], window: PageWindow): Promise<{ tokens: Token[]; total: number | undefined }> {
    // `api_token.id`: a bare `id` would be the select list's DOUBLE, and MySQL would sort the rows
    // instead of reading the list index in order.
    const sql =
      `SELECT ${LISTED_COLUMNS}, CAST((SELECT COUNT(*) FROM api_token ${where}) AS DOUBLE) AS pageTotal ` +
      `FROM api_token ${where} ORDER BY api_token.id DESC LIMIT ? OFFSET ?`;
    const rows = await preparedRows<ListedTokenRow>(this.dataSource, sql, [today, ...params, ...params, String(window.limit), String(window.offset)]);
    return { tokens: rows.map((row) => shownTokenMessage(row, row.usedToday)), total: rows[0]?.pageTotal };
  }
}
