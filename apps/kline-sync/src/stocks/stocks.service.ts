import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ImportStocksRequest, ImportStocksResponse } from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant } from '@batchgate/platform/errors';
import { PreparedEntityReader } from '@batchgate/platform/persistence';
import { klineSyncErrors } from '../kline-sync.errors';
import { StockInfoEntity } from './stock-info.entity';

export const MAX_IMPORT_BATCH = 5_000;
const CODE_PATTERN = /^[A-Za-z0-9.]{1,20}$/;
const MARKET_PATTERN = /^[A-Z]{2,10}$/;

@Injectable()
export class StocksService {
  private readonly reader: PreparedEntityReader<StockInfoEntity>;

  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {
    this.reader = new PreparedEntityReader(dataSource, StockInfoEntity);
  }

  /** Inserts new stocks of the caller's tenant and updates names of its known ones, all or nothing. */
  async importStocks(request: ImportStocksRequest): Promise<ImportStocksResponse> {
    const tenant = callerTenant(request.tenant);
    const { stocks } = request;
    if (stocks.length === 0 || stocks.length > MAX_IMPORT_BATCH) {
      throw klineSyncErrors.invalidStock(`stocks must hold 1-${MAX_IMPORT_BATCH} entries`);
    }
    const seen = new Set<string>();
    stocks.forEach((stock, index) => {
      if (!CODE_PATTERN.test(stock.code)) throw klineSyncErrors.invalidStock(`stocks[${index}].code must be 1-20 letters, digits or dots`, { index });
      if (!MARKET_PATTERN.test(stock.market)) throw klineSyncErrors.invalidStock(`stocks[${index}].market must be 2-10 capital letters (e.g. SH)`, { index });
      if (stock.name.length > 100) throw klineSyncErrors.invalidStock(`stocks[${index}].name must be at most 100 characters`, { index });
      const key = `${stock.market}:${stock.code}`;
      if (seen.has(key)) throw klineSyncErrors.invalidStock(`stocks[${index}] repeats ${key}`, { index });
      seen.add(key);
    });
    return this.dataSource.transaction(async (manager) => {
      // mysql2 expands an array of pairs into ('SH','600000'), ('SZ','000001'), ...
      const [{ known }] = (await manager.query(
        'SELECT COUNT(*) AS known FROM stock_info WHERE tenant = ? AND (market, stock_code) IN (?)',
        [tenant, stocks.map((s) => [s.market, s.code])],
      )) as [{ known: string }];
      for (let offset = 0; offset < stocks.length; offset += 500) {
        const chunk = stocks.slice(offset, offset + 500);
        await manager.query(
          `INSERT INTO stock_info (tenant, stock_code, market, name) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}
           ON DUPLICATE KEY UPDATE name = VALUES(name), deleted = 0`,
          chunk.flatMap((s) => [tenant, s.code, s.market, s.name]),
        );
      }
      return { inserted: stocks.length - Number(known), updated: Number(known) };
    });
  }

  /**
   * The tenant's live stocks, optionally of one market, in a stable order (market, code). A
   * prepared statement: every submission reads them, and TypeORM's query builder cost more CPU
   * than the statement.
   */
  async list(tenant: string, market?: string): Promise<StockInfoEntity[]> {
    const owner = callerTenant(tenant);
    return market
      ? this.reader.find('WHERE tenant = ? AND deleted = 0 AND market = ? ORDER BY market, stock_code', [owner, market])
      : this.reader.find('WHERE tenant = ? AND deleted = 0 ORDER BY market, stock_code', [owner]);
  }
}
