import { createHash, randomUUID } from 'node:crypto';
import type { JobChanged, JobChanges, JobItemChanged } from '@batchgate/contracts/common/v1/common';
import { JSONCodec, type NatsConnection, type Subscription } from 'nats';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../errors';
import type DataLoader from 'dataloader';
import { coalescedReads } from '../persistence/coalesced-reads';
import { preparedRowsNow } from '../persistence/prepared-reads';
import type { Outbox, OutboxTransaction } from '../messaging';
import { GroupCommit, retryOnDeadlock } from './group-commit';
import { jobSubjects, type JobKind } from './job-kind';
import {
  ITEM_TRANSITIONS,
  JOB_STATUSES,
  JOB_TRANSITIONS,
  listStatusOf,
  outcomeOf,
  sqlList,
  type ItemStatus,
  type JobStatus,
} from './job-states';

/** Who a job belongs to. Every read and write of the store is scoped to one. */
export interface JobOwner {
  tenant: string;
  userId: string;
}

export interface JobSnapshot<P> {
  id: string;
  kind: string;
  owner: JobOwner;
  status: JobStatus;
  params: P;
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Items ended since the current run started (a retried job's earlier ones excluded), for an ETA. */
  doneThisRun: number;
  /** Commits that changed the job so far (JobChanged.version). */
  version: number;
  errorMessage: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}

export interface JobItemSnapshot<I, R> {
  seq: number;
  status: ItemStatus;
  idempotencyKey: string;
  payload: I;
  result: R | null;
  attempts: number;
  progress: number;
  errorMessage: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface SubmitJob<P, I> {
  params: P;
  /** 1 or more; each becomes one work item. */
  items: ReadonlyArray<{ payload: I; idempotencyKey?: string }>;
  /** Stored `pending` and not queued until {@link JobStore.release} (a service's admission limit). */
  hold?: boolean;
  /**
   * While a job of this kind with the same key is open for the tenant, submitting again answers
   * that job instead of a new one (role: one persona task per tenant/task/strategy at a time).
   */
  dedupeKey?: string;
}

/** What a deduplicated submission found: its new job (`created`), or the open job of its key and that job's user. */
interface DedupedSubmission<P> {
  id: string;
  userId: string;
  created?: JobSnapshot<P>;
}

export interface Page {
  page: number;
  size: number;
}

/** What the worker's claim reads of an item it may run. */
export interface ClaimedItem<P, I> {
  jobId: string;
  seq: number;
  owner: JobOwner;
  params: P;
  payload: I;
  idempotencyKey: string;
  /** Runs of the item ever started, this one included: the fencing token of this run. */
  attempt: number;
  /** Runs since it was last queued (by its submission or a retry), this one included. */
  tries: number;
}

/** A failure may carry what the run found out (an {@link ItemFailure}'s result), stored as the item's result. */
export type ItemOutcome<R> = { ok: true; result: R } | { ok: false; reason: string; result?: R };

/** A run's outcome to record; `attempt` (the claim's) fences out an older run. */
export interface Completion<R> {
  jobId: string;
  seq: number;
  attempt: number;
  outcome: ItemOutcome<R>;
}

/** Whether the completion counted (false: another run, a cancel or a retry got there first). */
export interface CompletionResult {
  counted: boolean;
  /** Set when this completion ended its job. */
  jobFinished?: { status: JobStatus; seconds: number };
}

/** An outcome as recorded, for {@link JobStoreSettings.onOutcomes}. */
export interface CountedOutcome<P, I, R> {
  jobId: string;
  seq: number;
  owner: JobOwner;
  params: P;
  payload: I;
  outcome: ItemOutcome<R>;
  /** Runs of the item ever started; above `tries` when a retry of its job queued it again. */
  attempt: number;
  /** Runs of the item since it was last queued: above 1 when a run before this one died or threw. */
  tries: number;
}

export interface JobStoreDependencies {
  dataSource: DataSource;
  outbox: Outbox;
  nats: NatsConnection;
}

export interface JobStoreSettings {
  /** Work queue name (a NATS subject token): deployments and test runs sharing NATS use their own. */
  queue: string;
  /** Largest group written in one transaction. */
  maxGroup?: number;
  /** Groups of each sort (submissions; claims and outcomes) written at once, each on its own connection. */
  groupsInFlight?: number;
  /**
   * Runs in the transaction that records outcomes, with the ones it counts (each item's once):
   * a service's own rows that must agree with the outcome (kline-sync's failure rows, offline's
   * per-product result) commit or roll back with it.
   */
  onOutcomes?: (
    manager: EntityManager,
    outcomes: Array<CountedOutcome<unknown, unknown, unknown>>,
  ) => Promise<void>;
  /**
   * Items per work-queue message (of one job, or of jobs submitted together). More makes the
   * queue cheaper per item; fewer spreads a small job over more replicas (a replica takes a
   * message only when it has a free slot, and runs its items through its slots).
   */
  itemsPerMessage?: number;
}

const MAX_REASON = 500;
const changesCodec = JSONCodec<JobChanges>();
const DEFAULT_MAX_GROUP = 500;
const DEFAULT_ITEMS_PER_MESSAGE = 16;
/**
 * Rows per UPDATE whose values differ by row (a CASE over the rows' keys): MySQL evaluates the
 * CASE's branches in turn for each row, so its cost grows with the square of the rows.
 */
const MAX_CASE_ROWS = 100;

interface JobRow {
  id: string;
  kind: string;
  tenant: string;
  user_id: string;
  status: JobStatus;
  params: unknown;
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  done_before_run: number;
  version: number;
  error_message: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

const JOB_COLUMNS =
  'id, kind, tenant, user_id, status, params, total, succeeded, failed, cancelled, done_before_run, version, error_message, created_at, started_at, finished_at, updated_at';

/** A service's table with one row per job (keyed by job_id, tenant and user_id), read beside the job by {@link JobStore.getWith}. */
export interface JobAttachment {
  table: string;
  columns: readonly string[];
}

/** The attached row's job_id in a {@link JobStore.getWith} row: NULL when the job has none. */
const ATTACHED_KEY = 'attached_job_id';
const SQL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const attachedJobSelects = new Map<string, string>();

/** A read by id's statement up to its WHERE: the job alone (`j`). */
const JOB_SELECT = `SELECT ${JOB_COLUMNS} FROM job j`;

/** The job's columns as they are, each attached column as `attached_<column>`; made once per attachment. */
function attachedJobSelect({ table, columns }: JobAttachment): string {
  const key = `${table}(${columns.join(',')})`;
  let select = attachedJobSelects.get(key);
  if (select === undefined) {
    if (![table, ...columns].every((name) => SQL_NAME.test(name))) throw new Error(`job attachment ${key}: names must be plain SQL identifiers`);
    const jobColumns = JOB_COLUMNS.split(', ').map((column) => `j.${column}`);
    const attached = ['job_id', ...columns].map((column) => `a.\`${column}\` AS attached_${column}`);
    select = `SELECT ${[...jobColumns, ...attached].join(', ')} FROM job j LEFT JOIN \`${table}\` a ON a.job_id = j.id AND a.tenant = j.tenant AND a.user_id = j.user_id`;
    attachedJobSelects.set(key, select);
  }
  return select;
}

/** A job asked for by id, with the owner it must belong to. */
interface JobReadKey {
  id: string;
  tenant: string;
  userId: string;
}

/** A read by id its batch could not answer as asked: it is read again alone (see JobStore's readBatch). */
const READ_ALONE = Symbol('read alone');

/** A read key as a string no two different keys share. */
const readKeyOf = (id: string, tenant: string, userId: string): string => JSON.stringify([id, tenant, userId]);

const jobReadSqls = new Map<string, string>();

/**
 * `select` for `keys` jobs, each through its owner: `kind = ? AND ((id = ? AND tenant = ? AND
 * user_id = ?) OR …)`, which MariaDB reads as one primary-key range per id. Made once per select
 * and size; the sizes are powers of two (see {@link JobStore}'s readRows), so a connection prepares
 * at most 7 shapes of each.
 */
function jobReadSql(select: string, keys: number): string {
  const cacheKey = `${keys}:${select}`;
  let sql = jobReadSqls.get(cacheKey);
  if (sql === undefined) {
    const owned = Array.from({ length: keys }, () => '(j.id = ? AND j.tenant = ? AND j.user_id = ?)').join(' OR ');
    sql = `${select} WHERE j.kind = ? AND (${owned})`;
    jobReadSqls.set(cacheKey, sql);
  }
  return sql;
}

/**
 * The jobs of one kind, always through their owner: every method takes a {@link JobOwner} and
 * filters by it in SQL, so another owner's job id reads as not found. Submissions, claims and
 * outcomes are group-committed (see {@link GroupCommit}); every transaction that changes jobs
 * also writes their {@link JobChanged}s to the outbox (one event per commit), so the database and
 * the events never disagree after a crash.
 *
 * Lock order, in every transaction: items, then jobs, each in primary-key order; so two replicas'
 * groups wait for each other instead of deadlocking (a deadlock is retried all the same).
 */
export class JobStore<P, I, R> {
  readonly subjects: ReturnType<typeof jobSubjects>;
  private readonly submits: GroupCommit<{ owner: JobOwner; job: SubmitJob<P, I> }, JobSnapshot<P>>;
  /** Submissions with a dedupe key, group-committed apart from the others (their transaction may skip a job and read the open one instead). */
  private readonly dedupedSubmits: GroupCommit<{ owner: JobOwner; job: SubmitJob<P, I> }, DedupedSubmission<P>>;
  /** Claims and outcomes of the workers, written together. */
  private readonly work: GroupCommit<
    WorkWrite<R>,
    ClaimedItem<P, I> | CompletionResult | undefined
  >;
  private readonly itemsPerMessage: number;
  private readonly maxGroup: number;
  private readonly onOutcomes: JobStoreSettings['onOutcomes'];
  private readonly listeners = new Set<{ listener: (change: JobChanged) => void; status: JobStatus | undefined }>();
  private changeSubscription: Subscription | undefined;
  /** Reads by id outside a transaction, coalesced per statement up to its WHERE (the job alone, or with one attachment). */
  private readonly reads = new Map<string, DataLoader<JobReadKey, (JobRow & Record<string, unknown>) | undefined | typeof READ_ALONE>>();

  constructor(
    readonly kind: JobKind<P, I, R>,
    private readonly deps: JobStoreDependencies,
    settings: JobStoreSettings,
  ) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(settings.queue))
      throw new Error(`job queue "${settings.queue}" must be 1-64 letters, digits, _ or -`);
    this.subjects = jobSubjects(kind, settings.queue);
    this.itemsPerMessage = settings.itemsPerMessage ?? DEFAULT_ITEMS_PER_MESSAGE;
    this.onOutcomes = settings.onOutcomes;
    this.maxGroup = settings.maxGroup ?? DEFAULT_MAX_GROUP;
    const group = {
      maxBatch: this.maxGroup,
      maxInFlight: settings.groupsInFlight ?? 2,
    };
    this.submits = new GroupCommit((inputs) => this.insertJobs(inputs), group);
    this.dedupedSubmits = new GroupCommit((inputs) => this.insertDeduplicated(inputs), group);
    this.work = new GroupCommit((inputs) => this.applyWork(inputs), group);
  }

  get nats(): NatsConnection {
    return this.deps.nats;
  }

  /**
   * Calls `listener` with every committed change of this kind's jobs, as published by any
   * replica's outbox relay (core NATS: what is missed while disconnected is not replayed; the
   * database stays the record). One subscription per store, shared by its listeners.
   * With `status`, only the changes that leave a job in that status (the worker's cancels).
   */
  onChange(listener: (change: JobChanged) => void, only?: { status: JobStatus }): () => void {
    const entry = { listener, status: only?.status };
    this.listeners.add(entry);
    this.changeSubscription ??= this.deps.nats.subscribe(this.subjects.events, {
      callback: (error, message) => {
        if (error || !this.wanted(message.data)) return;
        for (const change of changesCodec.decode(message.data).changes) {
          for (const each of this.listeners)
            if (each.status === undefined || each.status === change.status) each.listener(change);
        }
      },
    });
    return () => {
      this.listeners.delete(entry);
      if (this.listeners.size === 0) {
        this.changeSubscription?.unsubscribe();
        this.changeSubscription = undefined;
      }
    };
  }

  /**
   * Whether some listener may want a change of this event: one that wants every change, or one
   * whose status the event's JSON names. Decided on the bytes: a worker listens only for cancels,
   * and decoding every group's event (a hundred jobs' changes) to find none was 1.5% of the
   * bench's samples (bench/jobs/README.md). The events are the kit's own `JSON.stringify` output
   * (no spaces), so a change to `s` always holds `"status":"s"`; an item's status may match
   * too, which only costs a decode.
   */
  private wanted(data: Uint8Array): boolean {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (const { status } of this.listeners)
      if (status === undefined || bytes.includes(statusBytes(status))) return true;
    return false;
  }

  // ---- owner's API ---------------------------------------------------------------------------

  /**
   * Stores the job and its items and queues the items (through the outbox, in the same
   * transaction) before answering; `queued`, or `pending` when held.
   */
  async submit(owner: JobOwner, job: SubmitJob<P, I>): Promise<JobSnapshot<P>> {
    checkOwner(owner);
    if (job.items.length === 0)
      throw new DomainError(
        'invalid_argument',
        `${this.kind.errorPrefix}.INVALID_ARGUMENT`,
        'A job needs at least one item',
      );
    if (job.dedupeKey === undefined) return this.submits.submit({ owner, job });
    const submitted = await this.dedupedSubmits.submit({ owner, job });
    if (submitted.created) return submitted.created;
    if (submitted.userId !== owner.userId) {
      throw new DomainError(
        'already_exists',
        `${this.kind.errorPrefix}.JOB_EXISTS`,
        `Another user of the tenant runs this ${this.kind.label.toLowerCase()} already`,
      );
    }
    return this.get(owner, submitted.id);
  }

  async get(owner: JobOwner, id: string): Promise<JobSnapshot<P>> {
    const job = await this.find(owner, id);
    if (!job) throw this.notFound(id);
    return job;
  }

  /**
   * The owner's job, or undefined (also for another owner's id). Outside a transaction it is a
   * prepared statement on the pool shared with the reads by id asked for in the same event-loop
   * turn (no query runner, no client-side escaping: a read by id is a hot path; see
   * {@link readRow}); inside one (`manager`), a plain query on the transaction's connection.
   */
  async find(
    owner: JobOwner,
    id: string,
    manager?: EntityManager,
    lock = false,
  ): Promise<JobSnapshot<P> | undefined> {
    checkOwner(owner);
    if (!isStorableId(id)) return undefined;
    if (!manager) {
      const row = await this.readRow(JOB_SELECT, owner, id);
      return row ? toSnapshot<P>(row) : undefined;
    }
    const sql = `SELECT ${JOB_COLUMNS} FROM job WHERE id = ? AND kind = ? AND tenant = ? AND user_id = ?`;
    const [row] = (await manager.query(lock ? `${sql} FOR UPDATE` : sql, [id, this.kind.name, owner.tenant, owner.userId])) as JobRow[];
    return row ? toSnapshot<P>(row) : undefined;
  }

  /**
   * The owner's job (another owner's is not found) with its row of a service's own table keyed
   * by (job_id, tenant, user_id), as kline-sync's plans: one prepared statement (shared as
   * {@link find}'s), so a read by id that shows the service's data beside the job costs one
   * round trip instead of two.
   * `attached` holds the named columns as the driver reads them, undefined while there is no row.
   */
  async getWith<A extends Record<string, unknown>>(
    owner: JobOwner,
    id: string,
    attachment: JobAttachment,
  ): Promise<{ job: JobSnapshot<P>; attached: A | undefined }> {
    checkOwner(owner);
    if (!isStorableId(id)) throw this.notFound(id);
    const row = await this.readRow(attachedJobSelect(attachment), owner, id);
    if (!row) throw this.notFound(id);
    const attached =
      row[ATTACHED_KEY] === null
        ? undefined
        : (Object.fromEntries(attachment.columns.map((column) => [column, row[`attached_${column}`]])) as A);
    return { job: toSnapshot<P>(row), attached };
  }

  /**
   * The owner's job read by `select`, in one statement with the other reads by id of the same
   * select asked for in this event-loop turn (see {@link coalescedReads}: at 50 calls in flight
   * a statement per read was one socket write and one wake-up of MariaDB each). The same job
   * asked for twice in a batch is read once.
   */
  private async readRow(select: string, owner: JobOwner, id: string): Promise<(JobRow & Record<string, unknown>) | undefined> {
    let reads = this.reads.get(select);
    if (reads === undefined) {
      reads = coalescedReads((keys) => this.readBatch(select, keys));
      this.reads.set(select, reads);
    }
    const key = { id, tenant: owner.tenant, userId: owner.userId };
    const row = await reads.load(key);
    if (row !== READ_ALONE) return row;
    // After its batch has answered the others: they do not wait for this second statement.
    const [alone] = await this.readRows(select, [key]);
    return alone;
  }

  private async readBatch(select: string, keys: readonly JobReadKey[]): Promise<Array<(JobRow & Record<string, unknown>) | undefined | typeof READ_ALONE>> {
    const distinct = new Map<string, JobReadKey>();
    for (const key of keys) distinct.set(readKeyOf(key.id, key.tenant, key.userId), key);
    const rows = await this.readRows(select, [...distinct.values()]);
    if (distinct.size === 1) return keys.map(() => rows[0]);
    // MySQL compares the id and the owner by the table's collation (case and trailing spaces do
    // not count), so a row may answer a key without equal strings. A key whose row is not here as
    // asked is read alone, by the statement a read of its own would send: a foreign or unknown
    // id costs a second statement, and no key ever gets a row another key's condition matched.
    const found = new Map(rows.map((row) => [readKeyOf(row.id, row.tenant, row.user_id), row]));
    return keys.map((key) => found.get(readKeyOf(key.id, key.tenant, key.userId)) ?? READ_ALONE);
  }

  /** The rows of `keys` (at least one), their count padded to a power of two with the last key repeated (see {@link jobReadSql}). */
  private readRows(select: string, keys: readonly JobReadKey[]): Promise<Array<JobRow & Record<string, unknown>>> {
    const size = 2 ** Math.ceil(Math.log2(keys.length));
    const params: string[] = [this.kind.name];
    for (let index = 0; index < size; index++) {
      const key = keys[Math.min(index, keys.length - 1)] as JobReadKey;
      params.push(key.id, key.tenant, key.userId);
    }
    return preparedRowsNow(this.deps.dataSource, jobReadSql(select, size), params);
  }

  /**
   * The owner's jobs of this kind, newest first; `status` one or several (kline-sync shows a
   * held job as queued, so its `queued` filter is both).
   */
  async list(
    owner: JobOwner,
    query: Page & { status?: JobStatus | readonly JobStatus[] },
  ): Promise<{ jobs: JobSnapshot<P>[]; total: number }> {
    checkOwner(owner);
    const statuses = query.status === undefined ? [] : typeof query.status === 'string' ? [query.status] : query.status;
    if (statuses.some((status) => !JOB_STATUSES.includes(status))) {
      throw new DomainError(
        'invalid_argument',
        `${this.kind.errorPrefix}.INVALID_ARGUMENT`,
        `status must be one of ${JOB_STATUSES.join(', ')}`,
        {
          details: { field: 'status' },
        },
      );
    }
    // The index's column first (idx_job_owner_list_status), then the status it folds.
    const where = `kind = ? AND tenant = ? AND user_id = ?${statuses.length > 0 ? ' AND list_status IN (?) AND status IN (?)' : ''}`;
    const params = [
      this.kind.name,
      owner.tenant,
      owner.userId,
      ...(statuses.length > 0 ? [[...new Set(statuses.map(listStatusOf))], statuses] : []),
    ];
    const [rows, [count]] = await Promise.all([
      this.deps.dataSource.query(
        `SELECT ${JOB_COLUMNS} FROM job WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
        [...params, query.size, (query.page - 1) * query.size],
      ) as Promise<JobRow[]>,
      this.deps.dataSource.query(
        `SELECT COUNT(*) AS total FROM job WHERE ${where}`,
        params,
      ) as Promise<Array<{ total: string | number }>>,
    ]);
    return { jobs: rows.map((row) => toSnapshot<P>(row)), total: Number(count?.total ?? 0) };
  }

  /** The items of the owner's job, in order. */
  async items(
    owner: JobOwner,
    id: string,
    query: Page & { status?: ItemStatus },
  ): Promise<{ items: JobItemSnapshot<I, R>[]; total: number }> {
    const job = await this.get(owner, id);
    const where = `job_id = ? AND tenant = ? AND user_id = ?${query.status ? ' AND status = ?' : ''}`;
    const params = [id, owner.tenant, owner.userId, ...(query.status ? [query.status] : [])];
    const rows = (await this.deps.dataSource.query(
      `SELECT seq, status, idempotency_key, payload, result, attempts, progress, error_message, started_at, finished_at
         FROM job_item WHERE ${where} ORDER BY seq LIMIT ? OFFSET ?`,
      [...params, query.size, (query.page - 1) * query.size],
    )) as ItemRow[];
    const total = query.status
      ? Number(
          (
            (await this.deps.dataSource.query(
              `SELECT COUNT(*) AS n FROM job_item WHERE ${where}`,
              params,
            )) as Array<{ n: string }>
          )[0]?.n ?? 0,
        )
      : job.total;
    return { items: rows.map((row) => toItemSnapshot<I, R>(row)), total };
  }

  /**
   * The items of several of the owner's jobs at once (another owner's are left out), in job and
   * item order: a list of one-item jobs (publish tasks) shows each job's item without a read per job.
   */
  async itemsOf(
    owner: JobOwner,
    ids: readonly string[],
  ): Promise<Map<string, JobItemSnapshot<I, R>[]>> {
    checkOwner(owner);
    const byJob = new Map<string, JobItemSnapshot<I, R>[]>();
    const storable = ids.filter(isStorableId);
    if (storable.length === 0) return byJob;
    const rows = (await this.deps.dataSource.query(
      `SELECT job_id, seq, status, idempotency_key, payload, result, attempts, progress, error_message, started_at, finished_at
         FROM job_item WHERE job_id IN (?) AND tenant = ? AND user_id = ? ORDER BY job_id, seq`,
      [storable, owner.tenant, owner.userId],
    )) as Array<ItemRow & { job_id: string }>;
    for (const row of rows)
      byJob.set(row.job_id, [...(byJob.get(row.job_id) ?? []), toItemSnapshot<I, R>(row)]);
    return byJob;
  }

  /**
   * Cancels an open job: its open items end `cancelled` (workers skip queued ones; running ones
   * are aborted on every replica, which hear of it through the change event), and the job ends
   * `cancelled` now. `running: 'refuse'` refuses (JOB_RUNNING) once any item has started.
   */
  async cancel(
    owner: JobOwner,
    id: string,
    options: { running?: 'abort' | 'refuse' } = {},
  ): Promise<JobSnapshot<P>> {
    checkOwner(owner);
    await this.changeJob(owner, id, async (tx, job, items) => {
      if (!(JOB_TRANSITIONS.cancel.from as readonly string[]).includes(job.status))
        throw this.finished(job);
      const open = items.filter((item) =>
        (ITEM_TRANSITIONS.cancel.from as readonly string[]).includes(item.status),
      );
      if (
        options.running === 'refuse' &&
        (job.status === 'running' || open.some((item) => item.status === 'running'))
      ) {
        throw new DomainError(
          'failed_precondition',
          `${this.kind.errorPrefix}.JOB_RUNNING`,
          `${this.kind.label} ${id} is already running`,
          {
            details: { id, status: job.status },
          },
        );
      }
      await tx.manager.query(
        `UPDATE job_item SET status = 'cancelled', finished_at = CURRENT_TIMESTAMP(3) WHERE job_id = ? AND status IN (${sqlList(ITEM_TRANSITIONS.cancel.from)})`,
        [id],
      );
      await tx.manager.query(
        `UPDATE job SET cancelled = cancelled + ?, status = 'cancelled', finished_at = CURRENT_TIMESTAMP(3), active_key = NULL,
                version = version + 1, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?`,
        [open.length, id],
      );
      return open.map((item) => ({
        seq: item.seq,
        status: 'cancelled' as const,
        attempts: item.attempts,
        errorMessage: '',
        progress: item.progress,
      }));
    });
    return this.get(owner, id);
  }

  /**
   * Queues the failed and cancelled items of a finished job again (in one transaction with
   * their work messages); the job is `queued` and its clock restarts. NOTHING_TO_RETRY when the
   * job is still open or has no such item. With `hold`, the job and those items are `pending`
   * instead, until {@link release} (a service whose admission limit decides when they run, as
   * for a held submission).
   */
  async retry(
    owner: JobOwner,
    id: string,
    options: { hold?: boolean } = {},
  ): Promise<JobSnapshot<P>> {
    checkOwner(owner);
    const status = options.hold ? ITEM_TRANSITIONS.release.from[0] : ITEM_TRANSITIONS.retry.to;
    await this.changeJob(owner, id, async (tx, job, items) => {
      const again = items.filter((item) =>
        (ITEM_TRANSITIONS.retry.from as readonly string[]).includes(item.status),
      );
      if (
        !(JOB_TRANSITIONS.retry.from as readonly string[]).includes(job.status) ||
        again.length === 0
      ) {
        throw new DomainError(
          'failed_precondition',
          `${this.kind.errorPrefix}.NOTHING_TO_RETRY`,
          `${this.kind.label} ${id} has no failed or cancelled ${this.kind.itemLabel ?? 'items'} to retry, or is still running`,
          { details: { id, status: job.status } },
        );
      }
      const failed = again.filter((item) => item.status === 'failed').length;
      await tx.manager.query(
        `UPDATE job_item SET status = ?, attempts_before_retry = attempts, result = NULL, error_message = NULL, progress = 0,
                started_at = NULL, finished_at = NULL
          WHERE job_id = ? AND status IN (${sqlList(ITEM_TRANSITIONS.retry.from)})`,
        [status, id],
      );
      await tx.manager.query(
        `UPDATE job SET failed = failed - ?, cancelled = cancelled - ?, done_before_run = succeeded, status = ?, error_message = NULL,
                started_at = NULL, finished_at = NULL, version = version + 1, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?`,
        [failed, again.length - failed, status, id],
      );
      if (options.hold)
        return again.map((item) => ({ seq: item.seq, status, attempts: item.attempts, errorMessage: '', progress: 0 }));
      return this.requeue(tx, id, again);
    });
    return this.get(owner, id);
  }

  /**
   * Queues a held (`pending`) job; JOB_NOT_PENDING when it is not pending. `order`: the items'
   * seqs in the order their work is queued (kline-sync's plan deals stocks over its threads);
   * seqs it leaves out follow in seq order.
   */
  async release(owner: JobOwner, id: string, options: { order?: readonly number[] } = {}): Promise<JobSnapshot<P>> {
    const [refused] = await this.releaseAll([{ owner, id, ...options }]);
    if (refused) throw refused;
    return this.get(owner, id);
  }

  /**
   * Queues many held jobs (any owners') in one transaction per {@link JobStoreSettings.maxGroup}
   * jobs, as {@link release} queues one: a locking read of their items with their jobs (one per
   * owner), one UPDATE of the items, one of the jobs, their work messages and one change event for all.
   * Answers per job, in order, undefined when it was released, else the error {@link release}
   * throws (JOB_NOT_PENDING: cancelled or released meanwhile; JOB_NOT_FOUND); the jobs are not
   * read back. A planner that releases a pass of jobs one by one spent about ten statements per
   * job (bench/gateway/README.md, "submissions:").
   */
  async releaseAll(jobs: ReadonlyArray<{ owner: JobOwner; id: string; order?: readonly number[] }>): Promise<Array<DomainError | undefined>> {
    for (const { owner } of jobs) checkOwner(owner);
    const refused: Array<DomainError | undefined> = [];
    for (let offset = 0; offset < jobs.length; offset += this.maxGroup) {
      const chunk = jobs.slice(offset, offset + this.maxGroup);
      refused.push(...(await retryOnDeadlock(() => this.deps.outbox.transaction((tx) => this.releaseGroup(tx, chunk)))));
    }
    return refused;
  }

  /**
   * Held (`pending`) jobs of this kind unchanged for `olderThanMs`, oldest first, with their
   * owners: for the service that releases them (its planner, its admission limit) to find the
   * ones whose release a stopped replica never got to. Not owner-scoped: the service acts for
   * each owner with what it answers.
   */
  async held(olderThanMs: number, limit: number): Promise<Array<{ id: string; owner: JobOwner }>> {
    const rows = (await this.deps.dataSource.query(
      `SELECT id, tenant, user_id FROM job
        WHERE kind = ? AND status IN (${sqlList(JOB_TRANSITIONS.release.from)}) AND updated_at < ?
        ORDER BY updated_at LIMIT ?`,
      [this.kind.name, new Date(Date.now() - olderThanMs), limit],
    )) as Array<{ id: string; tenant: string; user_id: string }>;
    return rows.map((row) => ({ id: row.id, owner: { tenant: row.tenant, userId: row.user_id } }));
  }

  // ---- worker's API (keyed by the work message, which only this service's queue carries) -----

  /** Marks the item running under a new attempt number, or undefined when it may not run (ended, cancelled). */
  claim(jobId: string, seq: number): Promise<ClaimedItem<P, I> | undefined> {
    return this.work.submit({ type: 'claim', jobId, seq }) as Promise<
      ClaimedItem<P, I> | undefined
    >;
  }

  /** Records a run's outcome once; the job ends with its last item. */
  complete(completion: Completion<R>): Promise<CompletionResult> {
    return this.work.submit({ type: 'complete', completion }) as Promise<CompletionResult>;
  }

  /** The running item's progress (0-100), if the run is still the item's current one. */
  async reportProgress(
    jobId: string,
    seq: number,
    attempt: number,
    percent: number,
  ): Promise<void> {
    const progress = Math.max(0, Math.min(100, Math.round(percent)));
    await retryOnDeadlock(() =>
      this.deps.outbox.transaction(async (tx) => {
        const result = (await tx.manager.query(
          "UPDATE job_item SET progress = ? WHERE job_id = ? AND seq = ? AND status = 'running' AND attempts = ?",
          [progress, jobId, seq, attempt],
        )) as { affectedRows: number };
        if (result.affectedRows !== 1) return;
        await tx.manager.query(
          'UPDATE job SET version = version + 1, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?',
          [jobId],
        );
        await this.emitChanges(
          tx,
          [jobId],
          new Map([
            [jobId, [{ seq, status: 'running', attempts: attempt, errorMessage: '', progress }]],
          ]),
        );
      }),
    );
  }

  // ---- group-committed writes ----------------------------------------------------------------

  private async insertJobs(
    inputs: Array<{ owner: JobOwner; job: SubmitJob<P, I> }>,
  ): Promise<JobSnapshot<P>[]> {
    const ids = inputs.map(() => randomUUID());
    const now = new Date();
    await retryOnDeadlock(() =>
      this.deps.outbox.transaction((tx) => this.insertRows(tx, inputs, ids, now)),
    );
    return inputs.map((input, index) => this.storedSnapshot(input, ids[index] as string, now));
  }

  /** A job as its submission stored it: no read back. */
  private storedSnapshot({ owner, job }: { owner: JobOwner; job: SubmitJob<P, I> }, id: string, now: Date): JobSnapshot<P> {
    return {
      id,
      kind: this.kind.name,
      owner: { tenant: owner.tenant, userId: owner.userId },
      status: job.hold ? 'pending' : 'queued',
      params: (job.params ?? null) as P,
      total: job.items.length,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
      doneThisRun: 0,
      version: 1,
      errorMessage: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
    };
  }

  private async insertRows(
    tx: OutboxTransaction,
    inputs: Array<{ owner: JobOwner; job: SubmitJob<P, I> }>,
    ids: string[],
    now: Date,
  ): Promise<void> {
    await tx.manager.query(`INSERT INTO ${JOB_INSERT}${jobValuesList(inputs.length)}`, this.jobValues(inputs, ids, now));
    await this.insertItems(tx, inputs, ids);
  }

  /** The `job` rows' values of submissions (ids in the same order), for {@link JOB_INSERT}. */
  private jobValues(inputs: Array<{ owner: JobOwner; job: SubmitJob<P, I> }>, ids: string[], now: Date): unknown[] {
    return inputs.flatMap(({ owner, job }, index) => [
      ids[index],
      this.kind.name,
      owner.tenant,
      owner.userId,
      job.hold ? 'pending' : 'queued',
      JSON.stringify(job.params ?? null),
      job.items.length,
      job.dedupeKey === undefined ? null : activeKeyOf(job.dedupeKey),
      now,
      now,
    ]);
  }

  /** The items of jobs just inserted, and their work (through the outbox) unless held. */
  private async insertItems(
    tx: OutboxTransaction,
    inputs: Array<{ owner: JobOwner; job: SubmitJob<P, I> }>,
    ids: string[],
  ): Promise<void> {
    const itemRows: unknown[][] = [];
    const work: Array<{ jobId: string; seq: number }> = [];
    inputs.forEach(({ owner, job }, index) => {
      const id = ids[index] as string;
      const status = job.hold ? 'pending' : 'queued';
      job.items.forEach((item, seq) => {
        itemRows.push([
          id,
          seq,
          owner.tenant,
          owner.userId,
          status,
          item.idempotencyKey ?? `${id}:${seq}`,
          JSON.stringify(item.payload ?? null),
        ]);
        if (!job.hold) work.push({ jobId: id, seq });
      });
    });
    for (let offset = 0; offset < itemRows.length; offset += 500) {
      const chunk = itemRows.slice(offset, offset + 500);
      await tx.manager.query(
        `INSERT INTO job_item (job_id, seq, tenant, user_id, status, idempotency_key, payload) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flat(),
      );
    }
    await this.queueWork(tx, work);
  }

  /** Queues a job's items (already `queued` in the table) as work, and reports them queued afresh. */
  private async requeue<T extends { seq: number; attempts: number }>(tx: OutboxTransaction, jobId: string, items: readonly T[]) {
    await this.queueWork(
      tx,
      items.map((item) => ({ jobId, seq: item.seq })),
    );
    return queuedAfresh(items);
  }

  /** Puts items on the work queue (through the outbox), `itemsPerMessage` to a message. */
  private async queueWork(
    tx: OutboxTransaction,
    items: Array<{ jobId: string; seq: number }>,
  ): Promise<void> {
    const messages: Array<{ items: typeof items }> = [];
    for (let offset = 0; offset < items.length; offset += this.itemsPerMessage) {
      messages.push({ items: items.slice(offset, offset + this.itemsPerMessage) });
    }
    await tx.emitAll(this.subjects.work, messages);
  }

  /**
   * A group of submissions with dedupe keys in one transaction. The first submission of each key
   * in the group is its candidate (later ones answer the candidate's job). The candidates' jobs
   * are inserted first, `INSERT IGNORE` skipping a key that an open job holds in `uq_job_active`
   * (a key another replica's group is inserting: the insert waits for that commit), and only when
   * some were skipped are the keys' jobs read. Not a locking read of the keys first: for keys
   * without a job (nearly every submission) that took gap locks on `uq_job_active`, so two groups
   * in flight deadlocked on each other's inserts (bench/role at 200 submissions/s: 134 row-lock
   * waits and 42 deadlocks in 10 s, none since). Candidates go in key order, so two groups racing
   * for the same keys wait for each other instead of deadlocking.
   */
  private async insertDeduplicated(
    inputs: Array<{ owner: JobOwner; job: SubmitJob<P, I> }>,
  ): Promise<Array<DedupedSubmission<P>>> {
    // Per submission: its tenant and active key, as openJobsOfKeys answers them.
    const keys = new Map(inputs.map((input) => [input, `${input.owner.tenant}\u0000${activeKeyOf(input.job.dedupeKey ?? '')}`]));
    const keyOf = (input: (typeof inputs)[number]) => keys.get(input) as string;
    const candidates = new Map<string, { input: (typeof inputs)[number]; id: string }>();
    for (const input of inputs) {
      if (!candidates.has(keyOf(input))) candidates.set(keyOf(input), { input, id: randomUUID() });
    }
    const ordered = [...candidates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, candidate]) => candidate);
    const now = new Date();
    // Per key: the job that answers it, and whether it is the candidate's new one.
    const answers = await retryOnDeadlock(() =>
      this.deps.outbox.transaction(async (tx) => {
        const inserted = (await tx.manager.query(
          `INSERT IGNORE INTO ${JOB_INSERT}${jobValuesList(ordered.length)}`,
          this.jobValues(
            ordered.map(({ input }) => input),
            ordered.map(({ id }) => id),
            now,
          ),
        )) as { affectedRows: number; warningStatus: number };
        const skipped = ordered.length - inserted.affectedRows;
        if (inserted.warningStatus !== skipped) await failOnIgnoredError(tx.manager, this.kind.label);
        const open = skipped > 0 ? await this.openJobsOfKeys(tx.manager, ordered.map(({ input }) => input)) : undefined;
        const byKey = new Map<string, { id: string; userId: string; created: boolean }>();
        for (const { input, id } of ordered) {
          const job = open ? open.get(keyOf(input)) : { id, userId: input.owner.userId };
          // The skipped insert holds a shared lock on the key's entry, so its job cannot end before this read.
          if (!job) throw new Error(`${this.kind.label}: an insert skipped a dedupe key that no open job holds`);
          byKey.set(keyOf(input), { ...job, created: job.id === id });
        }
        const fresh = ordered.filter(({ input }) => byKey.get(keyOf(input))?.created);
        await this.insertItems(
          tx,
          fresh.map(({ input }) => input),
          fresh.map(({ id }) => id),
        );
        return byKey;
      }),
    );
    return inputs.map((input) => {
      const answer = answers.get(keyOf(input)) as { id: string; userId: string; created: boolean };
      const first = answer.created && candidates.get(keyOf(input))?.input === input;
      return { id: answer.id, userId: answer.userId, ...(first ? { created: this.storedSnapshot(input, answer.id, now) } : {}) };
    });
  }

  /**
   * The jobs holding these submissions' dedupe keys, by tenant and key. A plain read, not a
   * locking one: the insert that skipped a key holds a shared lock on its `uq_job_active` entry
   * until the commit, so that job stays open (ending it clears the key); a locking read would also
   * lock its row, and deadlock with a worker that holds the row and is ending the job.
   */
  private async openJobsOfKeys(
    manager: EntityManager,
    inputs: Array<{ owner: JobOwner; job: SubmitJob<P, I> }>,
  ): Promise<Map<string, { id: string; userId: string }>> {
    const rows = (await manager.query(
      `SELECT id, tenant, user_id, active_key FROM job WHERE kind = ? AND (${inputs.map(() => '(tenant = ? AND active_key = ?)').join(' OR ')})`,
      [this.kind.name, ...inputs.flatMap(({ owner, job }) => [owner.tenant, activeKeyOf(job.dedupeKey ?? '')])],
    )) as Array<{ id: string; tenant: string; user_id: string; active_key: string }>;
    return new Map(rows.map((row) => [`${row.tenant}\u0000${row.active_key}`, { id: row.id, userId: row.user_id }]));
  }

  /**
   * One transaction of {@link releaseAll}. The items are locked with their jobs in one read, in
   * (job, item) order like a worker group's; the jobs' new state is computed here under the
   * locks, so the change event needs no read after the writes.
   */
  private async releaseGroup(
    tx: OutboxTransaction,
    inputs: ReadonlyArray<{ owner: JobOwner; id: string; order?: readonly number[] }>,
  ): Promise<Array<DomainError | undefined>> {
    // Per owner, so each input's jobs are matched by the columns' own collation; the owners in
    // one order, so two replicas releasing the same jobs lock them in the same order.
    const byOwner = new Map<string, { owner: JobOwner; ids: Set<string> }>();
    for (const { owner, id } of inputs) {
      if (!isStorableId(id)) continue;
      const key = ownerKey(owner);
      const entry = byOwner.get(key) ?? { owner, ids: new Set<string>() };
      entry.ids.add(id);
      byOwner.set(key, entry);
    }
    const found = new Map<string, { job: JobSnapshot<P>; items: Array<{ seq: number; status: ItemStatus; attempts: number }> }>();
    for (const [key, { owner, ids }] of [...byOwner].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const rows = (await tx.manager.query(
        `SELECT i.seq, i.status AS item_status, i.attempts, ${WORK_JOB_COLUMNS_NO_PARAMS}
           FROM job_item i FORCE INDEX (PRIMARY) STRAIGHT_JOIN job j ON j.id = i.job_id
          WHERE i.job_id IN (?) AND i.tenant = ? AND i.user_id = ? AND j.kind = ?
          ORDER BY i.job_id, i.seq
            FOR UPDATE`,
        [[...ids], owner.tenant, owner.userId, this.kind.name],
      )) as Array<JobColumnsRow & { seq: number; item_status: ItemStatus; attempts: number }>;
      for (const row of rows) {
        const jobKey = `${key}\u0000${idKey(row.job_id)}`;
        let entry = found.get(jobKey);
        if (!entry) found.set(jobKey, (entry = { job: toSnapshot<P>(jobRowOf(row)), items: [] }));
        entry.items.push({ seq: row.seq, status: row.item_status, attempts: row.attempts });
      }
    }
    const now = new Date();
    const released: Array<{ job: JobSnapshot<P>; items: JobItemChanged[] }> = [];
    const releasedIds = new Set<string>();
    const work: Array<{ jobId: string; seq: number }> = [];
    const refused = inputs.map(({ owner, id, order }) => {
      const entry = found.get(`${ownerKey(owner)}\u0000${idKey(id)}`);
      if (!entry) return this.notFound(id);
      const { job, items } = entry;
      // Named twice (or by owners the collation calls equal): released once, then not pending.
      const status = releasedIds.has(job.id) ? JOB_TRANSITIONS.release.to : job.status;
      if (!(JOB_TRANSITIONS.release.from as readonly string[]).includes(status)) {
        return new DomainError('failed_precondition', `${this.kind.errorPrefix}.JOB_NOT_PENDING`, `${this.kind.label} ${id} is not pending (${status})`, {
          details: { id, status },
        });
      }
      const held = items.filter((item) => (ITEM_TRANSITIONS.release.from as readonly string[]).includes(item.status));
      const queued = order ? inOrder(held, order) : held;
      job.status = JOB_TRANSITIONS.release.to;
      job.version++;
      job.updatedAt = now;
      released.push({ job, items: queuedAfresh(queued) });
      releasedIds.add(job.id);
      work.push(...queued.map((item) => ({ jobId: job.id, seq: item.seq })));
      return undefined;
    });
    if (released.length === 0) return refused;
    await tx.manager.query(`UPDATE job_item SET status = ? WHERE job_id IN (?) AND status IN (${sqlList(ITEM_TRANSITIONS.release.from)})`, [
      ITEM_TRANSITIONS.release.to,
      [...releasedIds],
    ]);
    await tx.manager.query('UPDATE job SET status = ?, version = version + 1, updated_at = ? WHERE id IN (?)', [JOB_TRANSITIONS.release.to, now, [...releasedIds]]);
    // Items of jobs released together share messages, as those of jobs submitted together do.
    await this.queueWork(tx, work);
    await tx.emit(this.subjects.events, {
      changes: released.map(({ job, items }) => toChange(job, items, now.toISOString())),
    });
    return refused;
  }

  /**
   * One group of the workers' writes (claims and outcomes, of any jobs) as one transaction of
   * four statements: read and lock the items with their jobs, write the items, write the jobs
   * (their new state computed here, under the locks), and one change event for every job the
   * group changed. Keys are sorted, so every group locks in (job, item) order.
   */
  private async applyWork(
    inputs: WorkWrite<R>[],
  ): Promise<Array<ClaimedItem<P, I> | CompletionResult | undefined>> {
    return retryOnDeadlock(() =>
      this.deps.outbox.transaction(async (tx) => {
        const now = new Date();
        const keys = [
          ...new Map(
            inputs.map((input) => {
              const key = input.type === 'claim' ? input : input.completion;
              return [`${key.jobId}:${key.seq}`, { jobId: key.jobId, seq: key.seq }] as const;
            }),
          ).values(),
        ].sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : a.seq - b.seq));
        // A claim answers the item's payload and its job's params, and so does an outcome
        // for onOutcomes; a group of outcomes alone does not read them (JSON of every item).
        const runData =
          this.onOutcomes !== undefined || inputs.some((input) => input.type === 'claim');
        // The primary key's range over the sorted keys: rows are locked in (job, item) order.
        const rows = (await tx.manager.query(
          `SELECT i.job_id, i.seq, i.tenant, i.user_id, i.status AS item_status, i.idempotency_key, ${runData ? 'i.payload' : 'NULL AS payload'},
                  i.attempts, i.attempts_before_retry, i.progress, ${runData ? WORK_JOB_COLUMNS : WORK_JOB_COLUMNS_NO_PARAMS}
             FROM job_item i FORCE INDEX (PRIMARY) STRAIGHT_JOIN job j ON j.id = i.job_id
            WHERE (i.job_id, i.seq) IN (${keys.map(() => '(?, ?)').join(', ')})
              FOR UPDATE`,
          keys.flatMap((key) => [key.jobId, key.seq]),
        )) as WorkRow[];
        const items = new Map(
          rows.map((row) => [
            `${row.job_id}:${row.seq}`,
            {
              row,
              status: row.item_status,
              attempts: row.attempts,
              write: undefined as ItemWrite | 'claim' | undefined,
            },
          ]),
        );
        const jobs = new Map<string, JobSnapshot<P>>();
        for (const row of rows)
          if (!jobs.has(row.job_id)) jobs.set(row.job_id, toSnapshot<P>(jobRowOf(row)));
        // The jobs' counters as read: their rows are written as increments over these.
        const countedBefore = new Map(
          [...jobs.values()].map((job) => [job.id, { succeeded: job.succeeded, failed: job.failed }]),
        );
        const changed = new Map<string, JobItemChanged[]>();
        const note = (jobId: string, item: JobItemChanged) => {
          const items = changed.get(jobId);
          if (items) items.push(item);
          else changed.set(jobId, [item]);
        };
        const results = new Map<WorkWrite<R>, ClaimedItem<P, I> | CompletionResult | undefined>();
        const counted: Array<CountedOutcome<P, I, R>> = [];

        // Outcomes first: each counts once, for the run (attempt) that holds the item.
        for (const input of inputs) {
          if (input.type !== 'complete') continue;
          const { jobId, seq, attempt, outcome } = input.completion;
          const item = items.get(`${jobId}:${seq}`);
          const transition = outcome.ok ? ITEM_TRANSITIONS.succeed : ITEM_TRANSITIONS.fail;
          const job = jobs.get(jobId);
          if (
            !item ||
            !job ||
            !(transition.from as readonly string[]).includes(item.status) ||
            attempt !== item.attempts
          ) {
            results.set(input, { counted: false });
            continue;
          }
          const errorMessage = outcome.ok ? null : outcome.reason.slice(0, MAX_REASON);
          const progress = outcome.ok ? 100 : item.row.progress;
          item.status = transition.to;
          item.write = {
            status: transition.to,
            result:
              outcome.ok || outcome.result !== undefined
                ? JSON.stringify(outcome.result ?? null)
                : null,
            errorMessage,
            progress,
          };
          if (outcome.ok) job.succeeded++;
          else job.failed++;
          job.doneThisRun++;
          note(jobId, {
            seq,
            status: transition.to,
            attempts: item.attempts,
            errorMessage: errorMessage ?? '',
            progress,
          });
          results.set(input, { counted: true });
          if (this.onOutcomes) counted.push({
            jobId,
            seq,
            owner: job.owner,
            params: job.params,
            payload: parseJson(item.row.payload) as I,
            outcome,
            attempt: item.attempts,
            tries: item.attempts - item.row.attempts_before_retry,
          });
        }
        // Then claims: a claimable item gets a new attempt, which fences out any older run.
        const started = new Set<string>();
        for (const input of inputs) {
          if (input.type !== 'claim') continue;
          const item = items.get(`${input.jobId}:${input.seq}`);
          if (!item || !(ITEM_TRANSITIONS.claim.from as readonly string[]).includes(item.status)) {
            results.set(input, undefined);
            continue;
          }
          const { row } = item;
          item.status = ITEM_TRANSITIONS.claim.to;
          item.attempts++;
          item.write = 'claim';
          started.add(row.job_id);
          note(row.job_id, {
            seq: row.seq,
            status: item.status,
            attempts: item.attempts,
            errorMessage: '',
            progress: 0,
          });
          results.set(input, {
            jobId: row.job_id,
            seq: row.seq,
            owner: { tenant: row.tenant, userId: row.user_id },
            params: parseJson(row.job_params) as P,
            payload: parseJson(row.payload) as I,
            idempotencyKey: row.idempotency_key,
            attempt: item.attempts,
            tries: item.attempts - row.attempts_before_retry,
          });
        }
        if (changed.size === 0) return inputs.map((input) => results.get(input));

        await this.writeItems(tx.manager, [...items.values()], now);

        // The jobs: start with their first claim, end with their last open item.
        const ended = new Map<string, JobSnapshot<P>>();
        const touched = [...changed.keys()].map((id) => jobs.get(id) as JobSnapshot<P>);
        for (const job of touched) {
          job.version++;
          job.updatedAt = now;
          if (
            started.has(job.id) &&
            (JOB_TRANSITIONS.start.from as readonly string[]).includes(job.status)
          ) {
            job.status = JOB_TRANSITIONS.start.to;
            job.startedAt = now;
          }
          if (
            (JOB_TRANSITIONS.finish.from as readonly string[]).includes(job.status) &&
            job.succeeded + job.failed + job.cancelled >= job.total
          ) {
            job.status = outcomeOf(job);
            job.finishedAt = now;
            ended.set(job.id, job);
          }
        }
        await this.writeJobs(tx.manager, touched, countedBefore, ended, now);
        await tx.emit(this.subjects.events, {
          changes: touched.map((job) =>
            toChange(job, changed.get(job.id) ?? [], now.toISOString()),
          ),
        });
        if (counted.length > 0) await this.onOutcomes?.(tx.manager, counted);

        return inputs.map((input) => {
          const result = results.get(input);
          if (input.type === 'claim' || !result || !('counted' in result) || !result.counted)
            return result;
          const job = ended.get(input.completion.jobId);
          if (!job) return result;
          // The job's end is reported once, with the first of its outcomes in this group.
          ended.delete(job.id);
          const seconds =
            job.startedAt && job.finishedAt
              ? (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000
              : 0;
          return { counted: true, jobFinished: { status: job.status, seconds } };
        });
      }),
    );
  }

  /**
   * The items' new state, written as plain UPDATEs over the primary key (the rows exist and this
   * transaction holds their locks): the claims in one statement, the outcomes in statements of
   * up to {@link MAX_CASE_ROWS} rows. An INSERT … ON DUPLICATE KEY UPDATE cost MariaDB a third
   * more CPU per row (the failed insert and the second lookup of the duplicate) and sent every
   * column of every row.
   */
  private async writeItems(
    manager: EntityManager,
    items: ReadonlyArray<{ row: WorkRow; write: ItemWrite | 'claim' | undefined }>,
    now: Date,
  ): Promise<void> {
    const claims: WorkRow[] = [];
    const outcomes: Array<{ row: WorkRow; write: ItemWrite }> = [];
    for (const { row, write } of items) {
      if (write === 'claim') claims.push(row);
      else if (write) outcomes.push({ row, write });
    }
    if (claims.length > 0) {
      // A claim adds one attempt to the attempts this transaction read under lock.
      const where = itemsWhere(claims);
      await manager.query(
        `UPDATE job_item FORCE INDEX (PRIMARY)
            SET status = ?, attempts = attempts + 1, result = NULL, error_message = NULL, progress = 0, started_at = ?, finished_at = NULL
          WHERE ${where.sql}`,
        [ITEM_TRANSITIONS.claim.to, now, ...where.params],
      );
    }
    for (let offset = 0; offset < outcomes.length; offset += MAX_CASE_ROWS) {
      const chunk = outcomes.slice(offset, offset + MAX_CASE_ROWS);
      const keys = chunk.map(({ row }) => [row.job_id, row.seq]);
      // Each job once (jobs of one item): its id alone picks the row, one comparison per branch.
      const oneItemPerJob = new Set(chunk.map(({ row }) => row.job_id)).size === chunk.length;
      const set = ['finished_at = ?'];
      const params: unknown[] = [now];
      for (const [column, valueOf] of [
        ['status', (write: ItemWrite) => write.status],
        ['result', (write: ItemWrite) => write.result],
        ['error_message', (write: ItemWrite) => write.errorMessage],
        ['progress', (write: ItemWrite) => write.progress],
      ] as const) {
        const values = chunk.map(({ write }) => valueOf(write));
        if (values.every((value) => value === values[0])) {
          set.push(`${column} = ?`);
          params.push(values[0]);
          continue;
        }
        if (oneItemPerJob) {
          set.push(`${column} = CASE job_id ${keys.map(() => 'WHEN ? THEN ?').join(' ')} END`);
          keys.forEach((key, index) => params.push(key[0], values[index]));
          continue;
        }
        set.push(`${column} = CASE ${keys.map(() => 'WHEN job_id = ? AND seq = ? THEN ?').join(' ')} END`);
        keys.forEach((key, index) => params.push(key[0], key[1], values[index]));
      }
      const where = itemsWhere(chunk.map(({ row }) => row));
      await manager.query(
        `UPDATE job_item FORCE INDEX (PRIMARY) SET ${set.join(', ')}
          WHERE ${where.sql}`,
        [...params, ...where.params],
      );
    }
  }

  /**
   * The jobs' new state as UPDATEs by id, one per kind of change (started, ended with a status,
   * counted only), each setting its jobs' counters as increments (one value for all, or a CASE
   * where they differ): a group's jobs mostly changed alike, so a few short statements replace
   * one INSERT … ON DUPLICATE KEY UPDATE of every column of every job.
   */
  private async writeJobs(
    manager: EntityManager,
    touched: ReadonlyArray<JobSnapshot<P>>,
    countedBefore: ReadonlyMap<string, { succeeded: number; failed: number }>,
    ended: ReadonlyMap<string, JobSnapshot<P>>,
    now: Date,
  ): Promise<void> {
    const alike = new Map<string, JobSnapshot<P>[]>();
    for (const job of touched) {
      const change = `${job.status}/${job.startedAt === now}/${ended.has(job.id)}`;
      const jobsOfChange = alike.get(change);
      if (jobsOfChange) jobsOfChange.push(job);
      else alike.set(change, [job]);
    }
    for (const group of alike.values()) {
      const [first] = group as [JobSnapshot<P>];
      const set = ['status = ?', 'version = version + 1', 'updated_at = ?'];
      const params: unknown[] = [first.status, now];
      if (first.startedAt === now) {
        set.push('started_at = ?');
        params.push(now);
      }
      if (ended.has(first.id)) {
        set.push('finished_at = ?', 'active_key = NULL');
        params.push(now);
      }
      for (const counter of ['succeeded', 'failed'] as const) {
        const added = group.map((job) => job[counter] - (countedBefore.get(job.id)?.[counter] ?? 0));
        if (added.every((value) => value === added[0])) {
          if (added[0] === 0) continue;
          set.push(`${counter} = ${counter} + ?`);
          params.push(added[0]);
          continue;
        }
        set.push(`${counter} = ${counter} + CASE id ${group.map(() => 'WHEN ? THEN ?').join(' ')} END`);
        group.forEach((job, index) => params.push(job.id, added[index]));
      }
      await manager.query(`UPDATE job SET ${set.join(', ')} WHERE id IN (?)`, [
        ...params,
        group.map((job) => job.id),
      ]);
    }
  }

  // ---- shared ---------------------------------------------------------------------------------

  /**
   * One owner-scoped change of a whole job: locks its open-or-retryable items, then the job
   * (not found for another owner), lets `change` write, and emits the change event.
   */
  private async changeJob(
    owner: JobOwner,
    id: string,
    change: (
      tx: OutboxTransaction,
      job: JobSnapshot<P>,
      items: ItemLock[],
    ) => Promise<JobItemChanged[]>,
  ): Promise<void> {
    if (!isStorableId(id)) throw this.notFound(id);
    await retryOnDeadlock(() =>
      this.deps.outbox.transaction(async (tx) => {
        const items = (await tx.manager.query(
          'SELECT seq, status, attempts, progress FROM job_item WHERE job_id = ? AND tenant = ? AND user_id = ? ORDER BY seq FOR UPDATE',
          [id, owner.tenant, owner.userId],
        )) as ItemLock[];
        const job = await this.find(owner, id, tx.manager, true);
        if (!job) throw this.notFound(id);
        const changed = await change(tx, job, items);
        await this.emitChanges(tx, [id], new Map([[id, changed]]));
      }),
    );
  }

  /** Reads the jobs as committed by this transaction and writes their changes as one event. */
  private async emitChanges(
    tx: OutboxTransaction,
    jobIds: string[],
    items: Map<string, JobItemChanged[]>,
  ): Promise<JobSnapshot<P>[]> {
    const rows = (await tx.manager.query(`SELECT ${JOB_COLUMNS} FROM job WHERE id IN (?)`, [
      jobIds,
    ])) as JobRow[];
    const jobs = rows.map((row) => toSnapshot<P>(row));
    const occurredAt = new Date().toISOString();
    await tx.emit(this.subjects.events, {
      changes: jobs.map((job) => toChange(job, items.get(job.id) ?? [], occurredAt)),
    });
    return jobs;
  }

  private notFound(id: string): DomainError {
    return new DomainError(
      'not_found',
      `${this.kind.errorPrefix}.JOB_NOT_FOUND`,
      `${this.kind.label} ${id} does not exist`,
      { details: { id } },
    );
  }

  private finished(job: JobSnapshot<P>): DomainError {
    return new DomainError(
      'failed_precondition',
      `${this.kind.errorPrefix}.JOB_FINISHED`,
      `${this.kind.label} ${job.id} has already finished (${job.status})`,
      {
        details: { id: job.id, status: job.status },
      },
    );
  }
}

type ClaimWrite = { type: 'claim'; jobId: string; seq: number };
type CompleteWrite<R> = { type: 'complete'; completion: Completion<R> };
type WorkWrite<R> = ClaimWrite | CompleteWrite<R>;

/** An item of a worker group with its job, as the group's locking read returns them. */
type WorkRow = {
  job_id: string;
  seq: number;
  tenant: string;
  user_id: string;
  item_status: ItemStatus;
  idempotency_key: string;
  payload: unknown;
  attempts: number;
  attempts_before_retry: number;
  progress: number;
} & JobColumnsRow;

/** The `job` insert's columns; the rows' values from {@link jobValuesList} and `JobStore.jobValues`. */
/** What `job.active_key` stores of a dedupe key: its SHA-256 in hex (HashedDedupeKeys1796400000000 says why). */
function activeKeyOf(dedupeKey: string): string {
  return createHash('sha256').update(dedupeKey, 'utf8').digest('hex');
}

const JOB_INSERT = 'job (id, kind, tenant, user_id, status, params, total, active_key, created_at, updated_at) VALUES ';

function jobValuesList(count: number): string {
  return Array.from({ length: count }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
}

const ER_DUP_ENTRY = 1062;

/**
 * After an `INSERT IGNORE` of jobs that warned other than once per skipped row: IGNORE turns any
 * error of a row into a warning (a dedupe key too long for its column is stored cut short, and
 * would answer another key's job), so anything but a duplicate key fails the transaction, as the
 * strict insert would have.
 */
async function failOnIgnoredError(manager: EntityManager, label: string): Promise<never> {
  const warnings = (await manager.query('SHOW WARNINGS')) as Array<{ Level: string; Code: number; Message: string }>;
  const cause = warnings.find((warning) => Number(warning.Code) !== ER_DUP_ENTRY) ?? warnings[0];
  throw new Error(
    `${label} job not stored: ${cause ? `${cause.Level} ${cause.Code} ${cause.Message}` : 'the insert warned of something it no longer lists'}`,
  );
}

/**
 * The WHERE of an UPDATE of these items (distinct keys, read under lock). Items of one seq each
 * (one-item jobs: the job's only item): `job_id IN (…) AND seq = ?`, which MariaDB checks per row
 * by a binary search, and plans as points of the primary key (unique: no index dive per job id
 * to estimate its rows, as `job_id IN (…)` alone cost; 110-row UPDATEs: 7 µs of MariaDB CPU per
 * row less). Others: `(job_id = ? AND seq = ?) OR …`, which it checks per row term by term (a
 * cost that grows with the square of the rows); not `(job_id, seq) IN ((?, ?))`: with a single
 * tuple MariaDB 10.11 plans that as a full index scan, so an UPDATE of one item locked every row
 * of job_item (and deadlocked submissions' inserts).
 */
function itemsWhere(rows: readonly WorkRow[]): { sql: string; params: unknown[] } {
  const seq = rows[0]?.seq;
  if (rows.every((row) => row.seq === seq))
    return { sql: 'job_id IN (?) AND seq = ?', params: [rows.map((row) => row.job_id), seq] };
  return {
    sql: rows.map(() => '(job_id = ? AND seq = ?)').join(' OR '),
    params: rows.flatMap((row) => [row.job_id, row.seq]),
  };
}

/** An item's recorded outcome. */
interface ItemWrite {
  status: ItemStatus;
  result: string | null;
  errorMessage: string | null;
  progress: number;
}

/** The job's columns in a worker group's read, each as `job_<column>`. */
const WORK_JOB_COLUMNS = JOB_COLUMNS.split(', ')
  .map((column) => `j.${column} AS job_${column}`)
  .join(', ');
const WORK_JOB_COLUMNS_NO_PARAMS = WORK_JOB_COLUMNS.replace('j.params AS job_params', 'NULL AS job_params');

/** A row with the job's columns as `job_<column>` ({@link WORK_JOB_COLUMNS}). */
type JobColumnsRow = { [column in keyof JobRow as `job_${column}`]: JobRow[column] };

function jobRowOf(row: JobColumnsRow): JobRow {
  return {
    id: row.job_id,
    kind: row.job_kind,
    tenant: row.job_tenant,
    user_id: row.job_user_id,
    status: row.job_status,
    params: row.job_params,
    total: row.job_total,
    succeeded: row.job_succeeded,
    failed: row.job_failed,
    cancelled: row.job_cancelled,
    done_before_run: row.job_done_before_run,
    version: row.job_version,
    error_message: row.job_error_message,
    created_at: row.job_created_at,
    started_at: row.job_started_at,
    finished_at: row.job_finished_at,
    updated_at: row.job_updated_at,
  };
}

interface ItemLock {
  seq: number;
  status: ItemStatus;
  attempts: number;
  progress: number;
}

interface ItemRow {
  seq: number;
  status: ItemStatus;
  idempotency_key: string;
  payload: unknown;
  result: unknown;
  attempts: number;
  progress: number;
  error_message: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

/** The event of a job's committed change. */
export function toChange(
  job: JobSnapshot<unknown>,
  items: JobItemChanged[],
  occurredAt: string,
): JobChanged {
  return {
    jobId: job.id,
    kind: job.kind,
    status: job.status,
    version: job.version,
    progress: {
      total: job.total,
      done: job.succeeded + job.failed + job.cancelled,
      succeeded: job.succeeded,
      failed: job.failed,
    },
    cancelled: job.cancelled,
    items,
    occurredAt,
  };
}

/** `items` with the seqs of `order` first, in that order, then the rest as they were. */
function inOrder<T extends { seq: number }>(items: readonly T[], order: readonly number[]): T[] {
  const bySeq = new Map(items.map((item) => [item.seq, item]));
  const first = order.flatMap((seq) => {
    const item = bySeq.get(seq);
    bySeq.delete(seq);
    return item ? [item] : [];
  });
  return [...first, ...items.filter((item) => bySeq.has(item.seq))];
}

/**
 * Whether `id` can name a job: job ids are stored in ascii (JobWriteCosts1765324800000), and
 * MariaDB refuses to compare that column with a string it cannot convert, so a non-ASCII id
 * (bad input) is answered as not found without a query.
 */
function isStorableId(id: string): boolean {
  return typeof id === 'string' && /^[\x00-\x7f]*$/.test(id);
}

const statusPatterns = new Map<JobStatus, Buffer>();

/** `"status":"<status>"` as it appears in a change event's JSON. */
function statusBytes(status: JobStatus): Buffer {
  let pattern = statusPatterns.get(status);
  if (!pattern) {
    pattern = Buffer.from(`"status":${JSON.stringify(status)}`);
    statusPatterns.set(status, pattern);
  }
  return pattern;
}

/** Items queued (again) as a change event reports them. */
function queuedAfresh(items: ReadonlyArray<{ seq: number; attempts: number }>): JobItemChanged[] {
  return items.map((item) => ({ seq: item.seq, status: 'queued', attempts: item.attempts, errorMessage: '', progress: 0 }));
}

function ownerKey(owner: JobOwner): string {
  return `${owner.tenant}\u0000${owner.userId}`;
}

/** A job id as `job.id`'s collation compares it (ascii_general_ci: case and trailing spaces do not count). */
function idKey(id: string): string {
  return id.toLowerCase().replace(/ +$/, '');
}

/** A JobStore refuses to run without an owner: there is no unscoped read or write. */
function checkOwner(owner: JobOwner): void {
  if (
    !owner ||
    typeof owner.tenant !== 'string' ||
    typeof owner.userId !== 'string' ||
    owner.tenant === '' ||
    owner.userId === ''
  ) {
    throw new TypeError('JobStore: an owner (tenant and userId, both non-empty) is required');
  }
}

/** MariaDB keeps JSON as text; MySQL's driver parses it. */
function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function toSnapshot<P>(row: JobRow): JobSnapshot<P> {
  const done = row.succeeded + row.failed + row.cancelled;
  return {
    id: row.id,
    kind: row.kind,
    owner: { tenant: row.tenant, userId: row.user_id },
    status: row.status,
    params: parseJson(row.params) as P,
    total: row.total,
    succeeded: row.succeeded,
    failed: row.failed,
    cancelled: row.cancelled,
    doneThisRun: Math.max(0, done - row.done_before_run),
    version: Number(row.version),
    errorMessage: row.error_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

function toItemSnapshot<I, R>(row: ItemRow): JobItemSnapshot<I, R> {
  return {
    seq: row.seq,
    status: row.status,
    idempotencyKey: row.idempotency_key,
    payload: parseJson(row.payload) as I,
    result: row.result === null ? null : (parseJson(row.result) as R),
    attempts: row.attempts,
    progress: row.progress,
    errorMessage: row.error_message,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
