import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Stored values of `api_token.status`; 1 is the seed's "enabled". */
export enum ApiTokenStatus {
  Disabled = 0,
  Active = 1,
  Retired = 2,
}

@Entity({ name: 'api_token' })
@Index('idx_api_token_pool', ['tenant', 'provider', 'status', 'deleted'])
@Index('idx_api_token_list', ['tenant', 'deleted', 'id'])
export class ApiTokenEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  /** The owning tenant: its users manage the token, its jobs use it. */
  @Column({ type: 'varchar', length: 64 })
  tenant!: string;

  @Column({ type: 'varchar', length: 64 })
  provider!: string;

  @Column({ type: 'varchar', length: 100, default: '' })
  name!: string;

  /** `v1:` + base64(iv | tag | ciphertext); see SecretCipher. */
  @Column({ name: 'secret_encrypted', type: 'varchar', length: 1024 })
  secretEncrypted!: string;

  @Column({ name: 'secret_mask', type: 'varchar', length: 16 })
  secretMask!: string;

  /**
   * SecretCipher.fingerprint of the secret; null only on rows from before it existed until the
   * start-up pass fills it. Unique among the tenant's live tokens of a provider (through the
   * generated column live_secret_hash, not mapped here).
   */
  @Column({ name: 'secret_hash', type: 'varchar', length: 64, nullable: true })
  secretHash!: string | null;

  @Column({ type: 'tinyint', default: ApiTokenStatus.Active })
  status!: ApiTokenStatus;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;

  @Column({ name: 'expire_time', type: 'datetime', precision: 3, nullable: true })
  expireTime!: Date | null;

  /** 0 means unlimited. */
  @Column({ name: 'daily_limit', type: 'int', default: 0 })
  dailyLimit!: number;

  /** Calls counted on `usageDay`; on any later day the token has used nothing yet. */
  @Column({ name: 'daily_used', type: 'int', default: 0 })
  dailyUsed!: number;

  @Column({ name: 'usage_day', type: 'date', nullable: true })
  usageDay!: string | null;

  /** 0 means unlimited. */
  @Column({ name: 'rate_limit_per_second', type: 'int', default: 0 })
  rateLimitPerSecond!: number;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError!: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  updatedAt!: Date;
}
