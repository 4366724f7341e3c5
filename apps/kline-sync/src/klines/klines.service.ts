import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { GetKlineRequest, GetKlineResponse, KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant } from '@batchgate/platform/errors';
import { GroupCommit } from '@batchgate/platform/jobs';
import { AnswersFirst } from '../jobs/answers-first';
import { klineSyncErrors } from '../kline-sync.errors';
import { KlineBarEntity } from './kline-bar.entity';

export const MAX_BARS_PER_QUERY = 5_000;

/** Whose bars of which stock and bar type: bars are their tenant's. */
export interface BarSeries {
  tenant: string;
  market: string;
  stockCode: string;
  kType: number;
}

/** Rows of one INSERT: 500 bars of 11 values stay well below MySQL's packet and placeholder limits. */
const BARS_PER_STATEMENT = 500;
/** Callers' writes gathered into one group: a burst's stocks of a few bars each share one statement. */
const WRITES_PER_GROUP = 64;
/** Groups written at once, each on its own pooled connection (as the job kit's group commits). */
const GROUPS_IN_FLIGHT = 2;

interface BarWrite {
  series: BarSeries;
  bars: readonly KlineBar[];
}

@Injectable()
export class KlinesService {
  /**
   * Bar writes of any stocks and tenants, group-committed: a burst of jobs finishing their stocks
   * wrote one statement per stock (the largest count of kline-sync's statements per submission
   * after the job kit's, bench/gateway/README.md "submissions:").
   */
  private readonly writes = new GroupCommit<BarWrite, void>((group) => this.write(group), {
    maxBatch: WRITES_PER_GROUP,
    maxInFlight: GROUPS_IN_FLIGHT,
  });

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(AnswersFirst) private readonly answersFirst: AnswersFirst,
  ) {}

  /**
   * Upserts bars: re-pulling a range (a retry, a stock run again after a crash) rewrites the same
   * rows. Answers once the bars are committed, with the writes of other stocks made meanwhile; a
   * group that fails is written again caller by caller, so only the caller whose bars the
   * database refuses fails.
   */
  upsert(series: BarSeries, bars: readonly KlineBar[]): Promise<void> {
    if (bars.length === 0) return Promise.resolve();
    return this.writes.submit({ series, bars });
  }

  /**
   * One group's bars in as few statements as their count allows. A bar named by several callers
   * of the group is written once, with the last caller's values (what writing them one after the
   * other left). The rows go in one fixed order (by key), so two groups writing the same bars (the other group
   * in flight, another replica) lock them in the same order instead of deadlocking. The group is
   * one background step while submissions are answered (AnswersFirst), whoever its callers are.
   */
  private async write(group: readonly BarWrite[]): Promise<void[]> {
    const rows = new Map<string, unknown[]>();
    for (const { series, bars } of group) {
      const { tenant, market, stockCode, kType } = series;
      for (const b of bars) {
        rows.set(`${tenant}\0${market}\0${stockCode}\0${kType}\0${String(b.t).padStart(16, '0')}`, [tenant, market, stockCode, kType, b.t, b.o, b.h, b.l, b.c, b.v, b.tu]);
      }
    }
    const ordered = [...rows.keys()].sort().map((key) => rows.get(key) as unknown[]);
    await this.answersFirst.step(async () => {
      for (let offset = 0; offset < ordered.length; offset += BARS_PER_STATEMENT) {
        const chunk = ordered.slice(offset, offset + BARS_PER_STATEMENT);
        await this.dataSource.query(
          `INSERT INTO kline_bar (tenant, market, stock_code, k_type, t, o, h, l, c, v, tu)
           VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
           ON DUPLICATE KEY UPDATE o = VALUES(o), h = VALUES(h), l = VALUES(l), c = VALUES(c), v = VALUES(v), tu = VALUES(tu)`,
          chunk.flat(),
        );
      }
    });
    return group.map(() => undefined);
  }

  /** The tenant's stored bars of `from..to`, oldest first, one page of at most MAX_BARS_PER_QUERY. */
  async find(request: GetKlineRequest): Promise<GetKlineResponse> {
    const tenant = callerTenant(request.tenant);
    if (!request.market || !request.code) {
      throw klineSyncErrors.invalidKlineQuery('market and code are required');
    }
    const to = request.to > 0 ? request.to : Number.MAX_SAFE_INTEGER;
    if (request.from > to) throw klineSyncErrors.invalidKlineQuery('from must not be after to');
    const rows = await this.dataSource
      .getRepository(KlineBarEntity)
      .createQueryBuilder('b')
      .where('b.tenant = :tenant AND b.market = :market AND b.stock_code = :code AND b.k_type = :kType', {
        tenant,
        market: request.market,
        code: request.code,
        kType: request.kType,
      })
      .andWhere('b.t BETWEEN :from AND :to', { from: request.from, to })
      .orderBy('b.t', 'ASC')
      .take(MAX_BARS_PER_QUERY + 1)
      .getMany();
    // One row more than a page says whether there is a next one, and where it starts.
    const nextFrom = rows.length > MAX_BARS_PER_QUERY ? Number(rows[MAX_BARS_PER_QUERY]?.t) : 0;
    const bars = rows.slice(0, MAX_BARS_PER_QUERY).map((row) => ({
      t: Number(row.t),
      o: Number(row.o),
      h: Number(row.h),
      l: Number(row.l),
      c: Number(row.c),
      v: Number(row.v),
      tu: Number(row.tu),
    }));
    return { bars, nextFrom };
  }
}
