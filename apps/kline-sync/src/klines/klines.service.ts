import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { GetKlineRequest, GetKlineResponse, KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant } from '@batchgate/platform/errors';
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

@Injectable()
export class KlinesService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Upserts bars: re-pulling a range (a retry, a stock run again after a crash) rewrites the same rows. */
  async upsert(series: BarSeries, bars: readonly KlineBar[]): Promise<void> {
    const { tenant, market, stockCode, kType } = series;
    for (let offset = 0; offset < bars.length; offset += 500) {
      const chunk = bars.slice(offset, offset + 500);
      await this.dataSource.query(
        `INSERT INTO kline_bar (tenant, market, stock_code, k_type, t, o, h, l, c, v, tu)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON DUPLICATE KEY UPDATE o = VALUES(o), h = VALUES(h), l = VALUES(l), c = VALUES(c), v = VALUES(v), tu = VALUES(tu)`,
        chunk.flatMap((b) => [tenant, market, stockCode, kType, b.t, b.o, b.h, b.l, b.c, b.v, b.tu]),
      );
    }
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
