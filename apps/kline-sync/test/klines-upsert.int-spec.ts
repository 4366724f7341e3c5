import type { DataSource } from 'typeorm';
import type { KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { openDataSource } from '@batchgate/platform/persistence';
import { createTestDatabase, type TestDatabase } from '@batchgate/testing';
import { KLINE_SYNC_SCHEMA } from '../src/app.module';
import { AnswersFirst } from '../src/jobs/answers-first';
import { KlinesService, type BarSeries } from '../src/klines/klines.service';

const DAY_MS = 86_400_000;
const FIRST_BAR = Date.UTC(2026, 2, 2);

/** `count` daily bars from FIRST_BAR, every price `price`. */
function bars(count: number, price: number): KlineBar[] {
  return Array.from({ length: count }, (_, i) => ({ t: FIRST_BAR + i * DAY_MS, o: price, h: price, l: price, c: price, v: 100 + i, tu: 1000 + i }));
}

/**
 * Bar writes of several stocks and tenants made at once share statements (group-committed), and
 * each caller still gets what one statement of its own gave it: its bars stored once with the
 * latest values, in its tenant, committed when its promise settles, and its own failure only.
 */
describe('kline-sync: bar upserts group-committed', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let klines: KlinesService;
  let barStatements: number;

  beforeAll(async () => {
    database = await createTestDatabase('ks_bars');
    dataSource = await openDataSource(
      {
        ...database.connection,
        DB_POOL_SIZE: 4,
        DB_CONNECT_TIMEOUT_MS: 5_000,
      },
      KLINE_SYNC_SCHEMA,
    );
    const query = dataSource.query.bind(dataSource);
    jest.spyOn(dataSource, 'query').mockImplementation((sql: string, ...rest) => {
      if (sql.startsWith('INSERT INTO kline_bar')) barStatements++;
      return query(sql, ...rest);
    });
    klines = new KlinesService(dataSource, new AnswersFirst());
  });
  beforeEach(async () => {
    barStatements = 0;
    await database.query('DELETE FROM kline_bar');
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  const stored = (series: BarSeries) =>
    database.query<{ t: string; c: string; v: string }>(
      'SELECT t, c, v FROM kline_bar WHERE tenant = ? AND market = ? AND stock_code = ? AND k_type = ? ORDER BY t',
      [series.tenant, series.market, series.stockCode, series.kType],
    );

  it('writes the stocks of several tenants upserted at once in one statement, each bar once in its tenant', async () => {
    const series: BarSeries[] = [];
    for (const tenant of ['acme', 'globex']) {
      for (const stockCode of ['600000', '600036', '601318']) series.push({ tenant, market: 'SH', stockCode, kType: 8 });
    }
    await Promise.all(series.map((s, i) => klines.upsert(s, bars(5, 10 + i))));

    expect(barStatements).toBe(1);
    for (const [i, s] of series.entries()) {
      const rows = await stored(s);
      expect(rows.map((row) => Number(row.t))).toEqual(bars(5, 0).map((b) => b.t));
      expect(rows.every((row) => Number(row.c) === 10 + i)).toBe(true);
    }
  });

  it('stores a bar two callers of one group write with the later caller values, once', async () => {
    const series: BarSeries = { tenant: 'acme', market: 'SH', stockCode: '600000', kType: 8 };
    await klines.upsert(series, bars(3, 1));
    barStatements = 0;

    // The second caller re-pulls two of the first's bars and one more, with new prices.
    await Promise.all([klines.upsert(series, bars(3, 2)), klines.upsert(series, bars(4, 3).slice(1))]);

    expect(barStatements).toBe(1);
    const rows = await stored(series);
    expect(rows.map((row) => [Number(row.t), Number(row.c)])).toEqual([
      [FIRST_BAR, 2],
      [FIRST_BAR + DAY_MS, 3],
      [FIRST_BAR + 2 * DAY_MS, 3],
      [FIRST_BAR + 3 * DAY_MS, 3],
    ]);
  });

  it('splits a group of more bars than one statement takes, and stores all of them', async () => {
    const long: BarSeries = { tenant: 'acme', market: 'SZ', stockCode: '000001', kType: 1 };
    const short: BarSeries = { tenant: 'globex', market: 'SZ', stockCode: '000001', kType: 1 };
    await Promise.all([klines.upsert(long, bars(700, 5)), klines.upsert(short, bars(2, 6))]);

    expect(barStatements).toBe(2);
    expect(await stored(long)).toHaveLength(700);
    expect((await stored(short)).map((row) => Number(row.c))).toEqual([6, 6]);
  });

  it('fails only the caller whose bars the database refuses; its group and later groups commit', async () => {
    const good: BarSeries = { tenant: 'acme', market: 'SH', stockCode: '600000', kType: 8 };
    const other: BarSeries = { tenant: 'globex', market: 'SH', stockCode: '600036', kType: 8 };
    // stock_code is VARCHAR(20): a longer one fails its statement (strict mode).
    const refused: BarSeries = { tenant: 'acme', market: 'SH', stockCode: 'X'.repeat(30), kType: 8 };

    const outcomes = await Promise.allSettled([klines.upsert(good, bars(2, 1)), klines.upsert(refused, bars(2, 1)), klines.upsert(other, bars(2, 1))]);

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await stored(good)).toHaveLength(2);
    expect(await stored(other)).toHaveLength(2);
    expect(await database.query('SELECT 1 FROM kline_bar WHERE stock_code LIKE ?', ['XXX%'])).toHaveLength(0);

    await klines.upsert(other, bars(3, 4));
    expect((await stored(other)).map((row) => Number(row.c))).toEqual([4, 4, 4]);
  });
});
