import type { EntityManager } from 'typeorm';
import type { CountedOutcome } from '@batchgate/platform/jobs';
import type { OfflineOutcome, OfflineParams, OfflineProduct } from './offline-jobs';

export interface OfflineProductRow {
  job_id: string;
  offline_msg_id: string;
  product_name: string;
  product_img: string;
}

/** The tenant's record that a product is offline (de-listed by a batch, or found offline), if any. */
export async function findOfflineProduct(manager: EntityManager, tenant: string, productId: number): Promise<OfflineProductRow | undefined> {
  const [row] = (await manager.query('SELECT job_id, offline_msg_id, product_name, product_img FROM offline_product WHERE tenant = ? AND product_id = ?', [
    tenant,
    productId,
  ])) as OfflineProductRow[];
  return row;
}

/**
 * The job store's outcome hook: each product a batch de-listed (or found offline at the
 * marketplace) gets its tenant's row in the transaction that records the item, so the record and
 * the item's result never disagree. The first batch's row stays (two batches racing for one
 * product both hear the marketplace's one de-list).
 */
export async function recordOfflineProducts(manager: EntityManager, outcomes: Array<CountedOutcome<unknown, unknown, unknown>>): Promise<void> {
  const rows = (outcomes as Array<CountedOutcome<OfflineParams, OfflineProduct, OfflineOutcome>>).flatMap((counted) =>
    counted.outcome.ok ? [{ counted, result: counted.outcome.result }] : [],
  );
  if (rows.length === 0) return;
  await manager.query(
    `INSERT IGNORE INTO offline_product (tenant, product_id, job_id, offline_msg_id, product_name, product_img, offline_at)
     VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP(3))').join(', ')}`,
    rows.flatMap(({ counted, result }) => [
      counted.owner.tenant,
      counted.payload.productId,
      counted.jobId,
      result.offlineMsgId.slice(0, 100),
      result.productName.slice(0, 255),
      result.productImg.slice(0, 1024),
    ]),
  );
}
