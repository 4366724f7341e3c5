import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** `stk_sync_failure.status` as seed 004 defines it. */
export enum SyncFailureStatus {
  Pending = 0,
  RetriedOk = 1,
  GivenUp = 2,
}

@Entity({ name: 'stk_sync_failure' })
export class SyncFailureEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  /** The owning tenant: its users share it. */
  @Column({ type: 'varchar', length: 64 })
  tenant!: string;

  @Column({ name: 'stock_code', type: 'varchar', length: 20 })
  stockCode!: string;

  @Column({ name: 'start_date', type: 'date' })
  startDate!: string;

  @Column({ name: 'end_date', type: 'date' })
  endDate!: string;

  @Column({ name: 'failure_reason', type: 'varchar', length: 500, nullable: true })
  failureReason!: string | null;

  @Column({ name: 'retry_count', type: 'int', default: 0 })
  retryCount!: number;

  @Column({ type: 'tinyint', default: SyncFailureStatus.Pending })
  status!: SyncFailureStatus;

  @Column({ name: 'last_retry_time', type: 'datetime', nullable: true })
  lastRetryTime!: Date | null;

  @Column({ name: 'create_time', type: 'datetime', default: () => 'CURRENT_TIMESTAMP' })
  createTime!: Date;

  @Column({ name: 'update_time', type: 'datetime', default: () => 'CURRENT_TIMESTAMP' })
  updateTime!: Date;
}
