import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One OHLCV bar; the key makes re-pulls upserts, so a repeated pull does no harm. */
@Entity({ name: 'kline_bar' })
export class KlineBarEntity {
  /** Bars pulled with a tenant's tokens (its provider licence) are that tenant's. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  tenant!: string;

  @PrimaryColumn({ type: 'varchar', length: 10 })
  market!: string;

  @PrimaryColumn({ name: 'stock_code', type: 'varchar', length: 20 })
  stockCode!: string;

  @PrimaryColumn({ name: 'k_type', type: 'tinyint' })
  kType!: number;

  /** Bar start, epoch ms (BIGINT comes back as a string from mysql2). */
  @PrimaryColumn({ type: 'bigint' })
  t!: string;

  @Column({ type: 'decimal', precision: 20, scale: 6 }) o!: string;
  @Column({ type: 'decimal', precision: 20, scale: 6 }) h!: string;
  @Column({ type: 'decimal', precision: 20, scale: 6 }) l!: string;
  @Column({ type: 'decimal', precision: 20, scale: 6 }) c!: string;
  @Column({ type: 'decimal', precision: 24, scale: 4 }) v!: string;
  @Column({ type: 'decimal', precision: 28, scale: 4 }) tu!: string;
}
