/**
 * SQL reading a DATETIME(3) column as the string `Date.prototype.toISOString` gives for it
 * (`2026-12-02T10:00:00.123Z`; NULL stays NULL). The columns hold UTC (mysql2's `timezone: 'Z'`
 * and every session's zone, see data-source.ts), so MariaDB can format what a message shows: a
 * Date built by mysql2 and its toISOString in the service cost about 0.5 µs a timestamp, a tenth
 * of token-manager's CPU on a page of 20 tokens with three each (bench/gateway/README.md,
 * section 32).
 */
export function isoTimestampSql(column: string): string {
  return `CONCAT(LEFT(DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')`;
}
