import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Outbox } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { OfflineConfig } from '../config/offline.config';
import { MarketplaceClient, type MarketplaceSession } from '../marketplace/marketplace.client';
import { OfflineMetrics } from '../offline.metrics';

export interface ResolvedSession {
  session: MarketplaceSession;
  /** Read from the cache (fetched earlier, by any replica) rather than fetched for this call. */
  cacheUsed: boolean;
}

/** Longest wait for another replica's fetch of the same tenant's session. */
const LOCK_WAIT_SECONDS = 10;

interface SessionRow {
  parent_msg_id: string;
  tool_id: string;
}

/**
 * The conversation id and de-list tool id of each tenant (seller), cached in MySQL with a TTL so
 * every replica shares them (seed 000's parentMsgId / toolId cache). A miss is fetched under a
 * named MySQL lock per tenant, and the cache is read again once the lock is held: replicas that
 * miss at once wait for the first one's fetch instead of each asking the marketplace.
 */
@Injectable()
export class SessionCache {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Outbox) private readonly outbox: Outbox,
    @Inject(MarketplaceClient) private readonly marketplace: MarketplaceClient,
    @Inject(SERVICE_CONFIG) private readonly config: OfflineConfig,
    @Inject(OfflineMetrics) private readonly metrics: OfflineMetrics,
  ) {}

  async get(tenant: string, signal?: AbortSignal): Promise<ResolvedSession> {
    const cached = await this.read(tenant);
    if (cached) {
      this.metrics.sessionCache.inc({ result: 'hit' });
      return { session: cached, cacheUsed: true };
    }
    return this.fetchShared(tenant, undefined, signal);
  }

  /**
   * New ids after the marketplace refused `stale` (404): fetched once, whoever notices first; a
   * caller that finds other ids cached already uses those.
   */
  refresh(tenant: string, stale: MarketplaceSession, signal?: AbortSignal): Promise<ResolvedSession> {
    this.metrics.sessionCache.inc({ result: 'stale' });
    return this.fetchShared(tenant, stale, signal);
  }

  /** Drops the tenant's ids; the next batch fetches new ones. Whether there were any. */
  async invalidate(tenant: string): Promise<boolean> {
    const result = (await this.dataSource.query('DELETE FROM offline_session WHERE tenant = ?', [tenant])) as { affectedRows?: number };
    return (result.affectedRows ?? 0) > 0;
  }

  /**
   * The admin's invalidation: drops the ids and announces it as a configuration change, in one
   * transaction, so every replica's running batches let go of the ids they hold as well.
   */
  async invalidateEverywhere(tenant: string): Promise<boolean> {
    return this.outbox.transaction(async (tx) => {
      const result = (await tx.manager.query('DELETE FROM offline_session WHERE tenant = ?', [tenant])) as { affectedRows?: number };
      await tx.emit('offline.seller.config_changed', { tenant, occurredAt: new Date().toISOString() });
      return (result.affectedRows ?? 0) > 0;
    });
  }

  private async read(tenant: string, manager = this.dataSource.manager): Promise<MarketplaceSession | undefined> {
    const [row] = (await manager.query('SELECT parent_msg_id, tool_id FROM offline_session WHERE tenant = ? AND expires_at > CURRENT_TIMESTAMP(3)', [
      tenant,
    ])) as SessionRow[];
    return row ? { parentMsgId: row.parent_msg_id, toolId: row.tool_id } : undefined;
  }

  private async fetchShared(tenant: string, stale: MarketplaceSession | undefined, signal?: AbortSignal): Promise<ResolvedSession> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    // MySQL lock names are at most 64 characters; a tenant id may be as long.
    const lock = `offline_session:${createHash('sha1').update(tenant).digest('hex')}`;
    let locked = false;
    try {
      const [acquired] = (await runner.query('SELECT GET_LOCK(?, ?) AS ok', [lock, LOCK_WAIT_SECONDS])) as Array<{ ok: number | string | null }>;
      // Not acquired in time: fetch without it (a second fetch beats a stuck batch).
      locked = Number(acquired?.ok) === 1;
      const cached = await this.read(tenant, runner.manager);
      if (cached && !(stale && sameSession(cached, stale))) {
        this.metrics.sessionCache.inc({ result: 'hit' });
        return { session: cached, cacheUsed: true };
      }
      this.metrics.sessionCache.inc({ result: 'miss' });
      const [parentMsgId, toolId] = await Promise.all([this.marketplace.openConversation(signal), this.marketplace.offlineToolId(signal)]);
      await runner.query(
        `INSERT INTO offline_session (tenant, parent_msg_id, tool_id, fetched_at, expires_at)
         VALUES (?, ?, ?, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND)
         ON DUPLICATE KEY UPDATE parent_msg_id = VALUES(parent_msg_id), tool_id = VALUES(tool_id),
            fetched_at = VALUES(fetched_at), expires_at = VALUES(expires_at)`,
        [tenant, parentMsgId, toolId, this.config.OFFLINE_SESSION_TTL_MS * 1_000],
      );
      return { session: { parentMsgId, toolId }, cacheUsed: false };
    } finally {
      if (locked) await runner.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => undefined);
      await runner.release();
    }
  }
}

function sameSession(a: MarketplaceSession, b: MarketplaceSession): boolean {
  return a.parentMsgId === b.parentMsgId && a.toolId === b.toolId;
}
