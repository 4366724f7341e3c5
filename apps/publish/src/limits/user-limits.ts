import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { retryOnDeadlock, type JobOwner } from '@batchgate/platform/jobs';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { PublishConfig } from '../config/publish.config';
import { PUBLISH_JOBS } from '../tasks/publish-jobs';

/** Acceptances granted to one submission (up to what it asked for). */
export interface RateGrant {
  granted: number;
  /** Gives them back when the submission could not be stored. */
  reservation: string;
  /** When the next acceptance frees up, for a submission that did not get all it asked for. */
  retryAfterSeconds: number;
}

const OPEN = ['pending', 'queued', 'running'];

/**
 * The per-user limits, kept in the service's database so they hold over every replica (SPEC §6).
 * Each is one short transaction under a row lock of the user's own, so users never wait for
 * each other, and nothing is held while the job kit writes (its group commit runs on its own
 * connections: a lock held across it could starve the pool).
 */
@Injectable()
export class UserLimits {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(SERVICE_CONFIG) private readonly config: PublishConfig,
  ) {}

  /**
   * Takes up to `wanted` of the user's acceptances in the sliding window (PUBLISH_USER_RATE_LIMIT
   * per PUBLISH_USER_RATE_WINDOW_MS), on the database's clock so replicas agree.
   */
  async reserve(owner: JobOwner, wanted: number): Promise<RateGrant> {
    const { PUBLISH_USER_RATE_LIMIT: limit, PUBLISH_USER_RATE_WINDOW_MS: windowMs } = this.config;
    const reservation = randomUUID();
    const user = [owner.tenant, owner.userId];
    // The lock row exists before the transaction: two first submissions inserting it inside
    // their transactions would deadlock on it (each waits for the other's insert).
    await this.dataSource.query('INSERT IGNORE INTO publish_user_rate (tenant, user_id) VALUES (?, ?)', user);
    return this.transaction(async (manager) => {
      await manager.query('SELECT tenant FROM publish_user_rate WHERE tenant = ? AND user_id = ? FOR UPDATE', user);
      await manager.query(
        'DELETE FROM publish_accept WHERE tenant = ? AND user_id = ? AND accepted_at <= NOW(3) - INTERVAL ? MICROSECOND',
        [...user, windowMs * 1000],
      );
      const [window] = (await manager.query(
        `SELECT COUNT(*) AS taken, TIMESTAMPDIFF(MICROSECOND, NOW(3), MIN(accepted_at) + INTERVAL ? MICROSECOND) AS free_in_us
           FROM publish_accept WHERE tenant = ? AND user_id = ?`,
        [windowMs * 1000, ...user],
      )) as Array<{ taken: string | number; free_in_us: string | number | null }>;
      const taken = Number(window?.taken ?? 0);
      const granted = Math.max(0, Math.min(wanted, limit - taken));
      if (granted > 0) {
        await manager.query(
          `INSERT INTO publish_accept (tenant, user_id, accepted_at, reservation) VALUES ${Array(granted).fill('(?, ?, NOW(3), ?)').join(', ')}`,
          Array.from({ length: granted }, () => [...user, reservation]).flat(),
        );
      }
      // The oldest acceptance in the window leaves it first; with none (limit 0) a whole window.
      const freeInMs = window?.free_in_us === null || window?.free_in_us === undefined ? windowMs : Number(window.free_in_us) / 1000;
      return { granted, reservation, retryAfterSeconds: Math.max(1, Math.ceil(freeInMs / 1000)) };
    });
  }

  /** Returns `count` acceptances of a reservation whose submissions were not stored. */
  async giveBack(reservation: string, count: number): Promise<void> {
    if (count <= 0) return;
    await this.dataSource.query('DELETE FROM publish_accept WHERE reservation = ? LIMIT ?', [reservation, count]);
  }

  /**
   * Hands the user's free running slots (PUBLISH_USER_MAX_RUNNING) to their oldest waiting tasks,
   * and answers every task that holds a slot and still waits to be queued (the caller releases
   * them; one an earlier admission assigned but could not release, after a crash, is among them).
   * A slot is free once its task has ended, so tasks queued or running never exceed the limit.
   */
  async admit(owner: JobOwner): Promise<string[]> {
    const slots = this.config.PUBLISH_USER_MAX_RUNNING;
    const user = [owner.tenant, owner.userId];
    await this.dataSource.query(
      `INSERT IGNORE INTO publish_run_slot (tenant, user_id, slot) VALUES ${Array(slots).fill('(?, ?, ?)').join(', ')}`,
      Array.from({ length: slots }, (_, slot) => [...user, slot]).flat(),
    );
    return this.transaction(async (manager) => {
      const held = (await manager.query(
        'SELECT slot, job_id FROM publish_run_slot WHERE tenant = ? AND user_id = ? AND slot < ? ORDER BY slot FOR UPDATE',
        [...user, slots],
      )) as Array<{ slot: number; job_id: string | null }>;
      const holders = held.flatMap((row) => (row.job_id ? [row.job_id] : []));
      const statusOf = new Map<string, string>();
      if (holders.length > 0) {
        const rows = (await manager.query('SELECT id, status FROM job WHERE id IN (?) AND tenant = ? AND user_id = ?', [
          holders,
          ...user,
        ])) as Array<{ id: string; status: string }>;
        for (const row of rows) statusOf.set(row.id, row.status);
      }
      const waiting = holders.filter((id) => statusOf.get(id) === 'pending');
      const free = held.filter((row) => !row.job_id || !OPEN.includes(statusOf.get(row.job_id) ?? ''));
      if (free.length === 0) return waiting;
      // list_status (the job kit's status index) is status for every state but running.
      const next = (await manager.query(
        `SELECT id FROM job WHERE tenant = ? AND user_id = ? AND kind = ? AND list_status = 'pending'${holders.length > 0 ? ' AND id NOT IN (?)' : ''}
          ORDER BY created_at, id LIMIT ?`,
        [...user, PUBLISH_JOBS.name, ...(holders.length > 0 ? [holders] : []), free.length],
      )) as Array<{ id: string }>;
      for (const [index, job] of next.entries()) {
        await manager.query('UPDATE publish_run_slot SET job_id = ?, assigned_at = NOW(3) WHERE tenant = ? AND user_id = ? AND slot = ?', [
          job.id,
          ...user,
          free[index]?.slot,
        ]);
      }
      return [...waiting, ...next.map((job) => job.id)];
    });
  }

  /**
   * One transaction under a user's lock row; a deadlock with another user's (adjacent index gaps
   * of publish_accept) is tried again.
   */
  private transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return retryOnDeadlock(() => this.dataSource.transaction(work));
  }

  /** Users with tasks waiting for a slot, for the sweep that admits what no event announced. */
  async usersWaiting(limit: number): Promise<JobOwner[]> {
    const rows = (await this.dataSource.query(
      "SELECT DISTINCT tenant, user_id FROM job WHERE kind = ? AND status = 'pending' LIMIT ?",
      [PUBLISH_JOBS.name, limit],
    )) as Array<{ tenant: string; user_id: string }>;
    return rows.map((row) => ({ tenant: row.tenant, userId: row.user_id }));
  }

  /** The owner of a task, for the admission that follows its end (a change event names only the task). */
  async ownerOf(jobId: string): Promise<JobOwner | undefined> {
    const [row] = (await this.dataSource.query('SELECT tenant, user_id FROM job WHERE id = ? AND kind = ?', [jobId, PUBLISH_JOBS.name])) as Array<{
      tenant: string;
      user_id: string;
    }>;
    return row ? { tenant: row.tenant, userId: row.user_id } : undefined;
  }
}
