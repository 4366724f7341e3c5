import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'stock_info' })
export class StockInfoEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  /** The owning tenant: its users share it. */
  @Column({ type: 'varchar', length: 64 })
  tenant!: string;

  @Column({ name: 'stock_code', type: 'varchar', length: 20 })
  stockCode!: string;

  /** iTick region: SH, SZ, HK, US, ... */
  @Column({ type: 'varchar', length: 10 })
  market!: string;

  @Column({ type: 'varchar', length: 100, default: '' })
  name!: string;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
