import type { DataSource, EntityMetadata } from 'typeorm';
import { preparedRows } from '@batchgate/platform/persistence';
import { ApiTokenEntity } from './api-token.entity';

/**
 * A page of tokens and its total in one prepared statement: `SELECT <every column>, (SELECT
 * COUNT(*) …) AS total FROM api_token <clauses>`. The page and a separate COUNT were two round
 * trips per list, each a socket write in token-manager and a statement in MySQL (a sixth of
 * token-manager's CPU on the paged list). Values are hydrated as PreparedEntityReader does
 * (libs/platform/persistence), which selects the entity's columns only.
 */
export class TokenPageReader {
  private resolved: { metadata: EntityMetadata; columns: string } | undefined;

  constructor(private readonly dataSource: DataSource) {}

  /** `total` is a scalar subquery (its `?`s come first in `params`); `clauses` follow the table name. */
  async page(total: string, clauses: string, params: readonly unknown[]): Promise<{ rows: ApiTokenEntity[]; total: number | undefined }> {
    const { metadata, columns } = this.metadata();
    const sql = `SELECT ${columns}, (${total}) AS page_total FROM \`${metadata.tableName}\` ${clauses}`;
    const found = await preparedRows<Record<string, unknown>>(this.dataSource, sql, params);
    const driver = this.dataSource.driver;
    const rows = found.map((row) => {
      const entity = metadata.create() as ApiTokenEntity;
      for (const column of metadata.columns) column.setEntityValue(entity, driver.prepareHydratedValue(row[column.databaseName], column));
      return entity;
    });
    return { rows, total: found[0] ? Number(found[0]['page_total']) : undefined };
  }

  // Resolved on first use: entity metadata exists once the DataSource is initialised.
  private metadata(): { metadata: EntityMetadata; columns: string } {
    if (!this.resolved) {
      const metadata = this.dataSource.getMetadata(ApiTokenEntity);
      this.resolved = { metadata, columns: metadata.columns.map((column) => `\`${column.databaseName}\``).join(', ') };
    }
    return this.resolved;
  }
}
