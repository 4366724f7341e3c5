import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The columns that say whose a row is: every service scopes its queries by them. */
export const OWNER_COLUMNS = ['tenant', 'user_id'] as const;
/** Byte-for-byte comparison; PAD SPACE, which the gateway's claim charset (no spaces) makes moot. */
export const OWNER_COLLATION = 'utf8mb4_bin';
const FORMER_COLLATION = 'utf8mb4_unicode_ci';

interface OwnerColumn {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
  IS_NULLABLE: 'YES' | 'NO';
  COLUMN_DEFAULT: string | null;
  COLUMN_COMMENT: string;
}

/**
 * Makes every owner column (`tenant`, `user_id`) of the service's database compare byte for byte.
 *
 * Why: the databases' default collation, utf8mb4_unicode_ci, calls `Acme` and `acme` equal, while
 * the gateway and the JWTs it verifies treat them as two tenants (and `Bob` and `bob` as two
 * users). So `WHERE tenant = ?` let tenant `ACME` read, change and cancel tenant `acme`'s rows,
 * and user `Bob` user `bob`'s jobs. Every service lists this one migration after its own, as it
 * lists the outbox's and the job kit's: it finds the owner columns of whatever tables the
 * service's earlier migrations created (information_schema), so no service writes the ALTERs of
 * its tables by hand. A table created later declares its owner columns `COLLATE utf8mb4_bin`
 * itself; the e2e suite's authorization matrix reads every service database's owner columns and
 * fails on one that does not.
 *
 * MariaDB's information_schema (the project's database) quotes a string default, so
 * `COLUMN_DEFAULT` is written back as it reads.
 */
export class BinaryOwnerColumns1796300000000 implements MigrationInterface {
  name = 'BinaryOwnerColumns1796300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await this.collate(queryRunner, OWNER_COLLATION);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await this.collate(queryRunner, FORMER_COLLATION);
  }

  private async collate(queryRunner: QueryRunner, collation: string): Promise<void> {
    const columns = (await queryRunner.query(
      `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT
         FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME IN (?) AND COLLATION_NAME IS NOT NULL AND COLLATION_NAME <> ?
        ORDER BY TABLE_NAME, ORDINAL_POSITION`,
      [OWNER_COLUMNS, collation],
    )) as OwnerColumn[];
    const byTable = new Map<string, OwnerColumn[]>();
    for (const column of columns) byTable.set(column.TABLE_NAME, [...(byTable.get(column.TABLE_NAME) ?? []), column]);
    for (const [table, owned] of byTable) {
      const changes = owned.map(
        (column) =>
          `MODIFY \`${column.COLUMN_NAME}\` ${column.COLUMN_TYPE} CHARACTER SET utf8mb4 COLLATE ${collation} ` +
          (column.IS_NULLABLE === 'YES' ? 'NULL' : 'NOT NULL') +
          (column.COLUMN_DEFAULT === null ? '' : ` DEFAULT ${column.COLUMN_DEFAULT}`) +
          (column.COLUMN_COMMENT === '' ? '' : ` COMMENT ${quote(column.COLUMN_COMMENT)}`),
      );
      // One ALTER per table: a table with both columns (or both in its primary key) is rebuilt once.
      await queryRunner.query(`ALTER TABLE \`${table}\` ${changes.join(', ')}`);
    }
  }
}

const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
