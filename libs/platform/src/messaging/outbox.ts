import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import type { DomainEvents, EventSubject } from '@batchgate/contracts';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DataSource, EntityManager } from 'typeorm';
import { currentRequestId } from '../context';
import type { EventPublisher } from './event-bus';
import { executeInTransaction } from '../persistence/prepared-write';

/** Longest wait between relay passes while they fail. */
const MAX_BACKOFF_MS = 5_000;
/** How often (at most) published rows past their retention are deleted, and how many per statement. */
const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_BATCH = 1_000;
/** Most events per INSERT statement (a power of two, see insertEvents). */
const INSERT_BATCH = 256;
/** Publishes awaiting their JetStream acks at once. */
const PUBLISH_WINDOW = 256;
/**
 * Events committed by this process held in memory for the relay; beyond this (NATS down for
 * long) further ones are left to the table's poll.
 */
const MAX_COMMITTED_IN_MEMORY = 10_000;
/**
 * How old an unpublished row must be before the poll publishes it: younger ones belong to the
 * process that committed them, which publishes them from memory (a poll of every replica taking
 * them as well would publish most events twice). Older ones were left by a process that died,
 * or stopped, or failed to publish them.
 */
const ORPHAN_AGE_SECONDS = 2;
/** Rows older than {@link ORPHAN_AGE_SECONDS} that nobody published (its one `?` is that age). */
const ORPHANED = 'published_at IS NULL AND created_at < NOW(3) - INTERVAL ? SECOND';

/** Where a test may make the relay kill its own process, to prove that nothing is lost. */
export type OutboxCrashPoint = 'none' | 'before-publish' | 'after-publish';

export interface OutboxSettings {
  pollIntervalMs: number;
  batchSize: number;
  /** How long published rows are kept (to trace what was announced) before they are deleted. */
  retentionMs: number;
  crashPoint: OutboxCrashPoint;
}

export interface OutboxTransaction {
  manager: EntityManager;
  /** Records an event; it is published only if the surrounding transaction commits. */
  emit<S extends EventSubject>(subject: S, payload: DomainEvents[S]): Promise<void>;
  /** Records many events of one subject in one statement (a job's work items). */
  emitAll<S extends EventSubject>(subject: S, payloads: readonly DomainEvents[S][]): Promise<void>;
}

/** An event to publish: a row of the table, or what this process inserted and committed. */
interface RelayEvent {
  eventId: string;
  subject: EventSubject;
  /** The row's JSON. */
  payload: string;
  requestId: string | null;
  /** When it was inserted (this process's clock), for the relay lag. */
  insertedAt: number;
}

/**
 * Transactional outbox: state changes and the events announcing them commit together; a relay
 * publishes committed events to JetStream with the row's event id as message id and marks them
 * published.
 * The relay publishes the events this process committed from memory, right after the commit
 * (no read of the rows back, no locking read per pass), and polls the table every
 * `pollIntervalMs` for rows older than a few seconds that nobody published: those of a process
 * that died between its commit and its publish, or whose publish failed.
 * A crash between commit and publish leaves the row for the poll (of this process when it
 * restarts, or of another); a crash between publish and marking re-publishes with the same id,
 * which JetStream drops.
 */
export class Outbox {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private stopped = true;
  /** Passes failed in a row, and when the first of them failed. */
  private failedPasses = 0;
  private failingSince = 0;
  private lastPruneAt = 0;
  private lastPollAt = 0;
  /** Committed by this process, to publish from memory. */
  private committed: RelayEvent[] = [];
  private readonly published: Counter;
  private readonly relayLag: Histogram;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: EventPublisher,
    private readonly settings: OutboxSettings,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.published = new Counter({ name: 'outbox_events_published_total', help: 'Outbox events published to NATS', registers: [registry] });
    this.relayLag = new Histogram({
      name: 'outbox_relay_lag_seconds',
      help: 'Time from an event\'s commit to its publish',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.registerBacklogGauges(registry);
  }

  /** Runs `work` in one DB transaction; events it emits are relayed after the commit. */
  async transaction<T>(work: (tx: OutboxTransaction) => Promise<T>): Promise<T> {
    const requestId = currentRequestId() ?? null;
    const inserted: RelayEvent[] = [];
    const result = await this.dataSource.transaction(async (manager) =>
      work({
        manager,
        emit: (subject, payload) => insertEvents(manager, subject, [payload], requestId, inserted),
        emitAll: (subject, payloads) => insertEvents(manager, subject, payloads, requestId, inserted),
      }),
    );
    if (inserted.length > 0 && !this.stopped && this.committed.length + inserted.length <= MAX_COMMITTED_IN_MEMORY) {
      this.committed.push(...inserted);
      this.wake();
    }
    return result;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling and waits for a pass in progress, so shutdown never cuts a publish in half. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    // Their rows are the record: the poll of the next process publishes them.
    this.committed = [];
  }

  /** Publishes what is pending now instead of at the next poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.relayPending()
        .then(() => this.recovered(), (error: unknown) => this.failed(error))
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          const again = this.rerun && this.failedPasses === 0;
          this.rerun = false;
          this.schedule(again ? 0 : this.nextPassDelayMs());
        });
    }, delayMs);
    this.timer.unref();
  }

  /** The poll interval; while MySQL or NATS is down, doubling per failed pass up to 5 s. */
  private nextPassDelayMs(): number {
    const poll = this.settings.pollIntervalMs;
    if (this.failedPasses === 0) return poll;
    return Math.max(poll, Math.min(poll * 2 ** Math.min(this.failedPasses - 1, 16), MAX_BACKOFF_MS));
  }

  /** An outage is logged when it starts and when it ends, not once per pass. */
  private failed(error: unknown): void {
    if (this.failedPasses++ === 0) {
      this.failingSince = Date.now();
      this.logger.warn({ err: error }, 'outbox relay failing (MySQL or NATS unreachable?); retrying with backoff');
    }
  }

  private recovered(): void {
    if (this.failedPasses === 0) return;
    this.logger.info({ failedPasses: this.failedPasses, downMs: Date.now() - this.failingSince }, 'outbox relay recovered');
    this.failedPasses = 0;
  }

  /**
   * The backlog, read from the table when scraped (every replica reports the same shared backlog;
   * dashboards take the max). While MySQL is down the gauges keep their last value and /metrics
   * still answers.
   */
  private registerBacklogGauges(registry: Registry): void {
    let snapshot: Promise<{ pending: number; oldestAgeSeconds: number } | undefined> | undefined;
    const backlog = () => {
      snapshot ??= this.dataSource
        .query(
          'SELECT COUNT(*) AS pending, COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(3)), 0) / 1e6 AS oldestAgeSeconds FROM outbox_event WHERE published_at IS NULL',
        )
        .then((rows: Array<{ pending: string; oldestAgeSeconds: string }>) => ({
          pending: Number(rows[0]?.pending ?? 0),
          oldestAgeSeconds: Number(rows[0]?.oldestAgeSeconds ?? 0),
        }))
        .catch(() => undefined)
        .finally(() => setImmediate(() => (snapshot = undefined)));
      return snapshot;
    };
    new Gauge({
      name: 'outbox_pending_events',
      help: 'Events committed and not yet published',
      registers: [registry],
      async collect() {
        const now = await backlog();
        if (now) this.set(now.pending);
      },
    });
    new Gauge({
      name: 'outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest event committed and not yet published (0 when none waits)',
      registers: [registry],
      async collect() {
        const now = await backlog();
        if (now) this.set(now.oldestAgeSeconds);
      },
    });
  }

  /**
   * One pass: publish what this process committed; every `pollIntervalMs`, the table's orphaned
   * rows in id order until none are left; now and then, prune.
   */
  private async relayPending(): Promise<void> {
    await this.publishCommitted();
    if (Date.now() - this.lastPollAt >= this.settings.pollIntervalMs) {
      this.lastPollAt = Date.now();
      await this.publishPending();
    }
    if (Date.now() - this.lastPruneAt >= Math.min(PRUNE_INTERVAL_MS, this.settings.retentionMs)) {
      await this.prunePublished();
      this.lastPruneAt = Date.now();
    }
  }

  /** Deletes published rows older than the retention, a batch per statement (short locks). */
  private async prunePublished(): Promise<void> {
    const retentionSeconds = this.settings.retentionMs / 1000;
    for (;;) {
      const result = (await this.dataSource.query(
        'DELETE FROM outbox_event WHERE published_at IS NOT NULL AND published_at < NOW(3) - INTERVAL ? SECOND ORDER BY published_at LIMIT ?',
        [retentionSeconds, PRUNE_BATCH],
      )) as { affectedRows?: number };
      if ((result.affectedRows ?? 0) < PRUNE_BATCH) return;
    }
  }

  /** Publishes the events this process committed, and marks their rows published. */
  private async publishCommitted(): Promise<void> {
    while (this.committed.length > 0) {
      const events = this.committed.splice(0, PUBLISH_WINDOW);
      // One that failed is left to the poll (NATS may be reconnecting; the row is the record).
      const { published, failure } = await this.publishAll(events);
      if (published.length > 0) {
        await this.dataSource.query('UPDATE outbox_event SET published_at = CURRENT_TIMESTAMP(3) WHERE event_id IN (?)', [
          published.map((event) => event.eventId),
        ]);
      }
      this.published.inc(published.length);
      if (failure) throw failure;
    }
  }

  /** Publishes the rows nobody published (see ORPHAN_AGE_SECONDS), locked, in id order. */
  private async publishPending(): Promise<void> {
    for (;;) {
      // Almost every poll finds nothing: one plain read says so, where the locking pass costs
      // four statements (isolation level, begin, select, commit) every interval in every service.
      // A row it sees that another replica holds is skipped by the pass below, which then ends.
      const orphans = (await this.dataSource.query(
        `SELECT 1 FROM outbox_event WHERE ${ORPHANED} LIMIT 1`,
        [ORPHAN_AGE_SECONDS],
      )) as unknown[];
      if (orphans.length === 0) return;
      // READ COMMITTED: no gap locks, so marking rows published never deadlocks with the
      // transactions inserting new events into the same index range.
      const relayed = await this.dataSource.transaction('READ COMMITTED', async (manager) => {
        // SKIP LOCKED: replicas relay disjoint rows instead of waiting on each other.
        const rows = (await manager.query(
          `SELECT id, event_id AS eventId, subject, payload, request_id AS requestId,
                  TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) / 1e6 AS ageSeconds
             FROM outbox_event WHERE ${ORPHANED}
            ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
          [ORPHAN_AGE_SECONDS, this.settings.batchSize],
        )) as Array<{ id: string; eventId: string; subject: EventSubject; payload: string; requestId: string | null; ageSeconds: string }>;
        const now = Date.now();
        const ids = new Map(rows.map((row) => [row.eventId, String(row.id)]));
        const { published, failure } = await this.publishAll(
          rows.map((row) => ({ ...row, insertedAt: now - Number(row.ageSeconds) * 1000 })),
        );
        if (published.length > 0) {
          await manager.query('UPDATE outbox_event SET published_at = CURRENT_TIMESTAMP(3) WHERE id IN (?)', [
            published.map((event) => ids.get(event.eventId)),
          ]);
        }
        return { count: rows.length, published: published.length, failure };
      });
      this.published.inc(relayed.published);
      if (relayed.failure) throw relayed.failure;
      if (relayed.count < this.settings.batchSize) return;
    }
  }

  /**
   * Publishes `events` a window at a time, awaiting each window's acks together (one at a time,
   * 1,000 events waited for 1,000 round trips in turn). The connection sends them in order; one
   * whose publish failed is not marked (the poll publishes it again later) while the ones acked
   * are, so after a failure an event may reach the stream after a later one (consumers order by
   * their own versions or ids).
   */
  private async publishAll(events: readonly RelayEvent[]): Promise<{ published: RelayEvent[]; failure: unknown }> {
    const published: RelayEvent[] = [];
    let failure: unknown;
    for (let start = 0; start < events.length && failure === undefined; start += PUBLISH_WINDOW) {
      const window = events.slice(start, start + PUBLISH_WINDOW);
      this.crashIf('before-publish');
      const acks = await Promise.allSettled(
        window.map((event) =>
          this.publisher.publishJson(event.subject, event.payload, {
            messageId: event.eventId,
            requestId: event.requestId ?? undefined,
          }),
        ),
      );
      this.crashIf('after-publish');
      const now = Date.now();
      acks.forEach((ack, index) => {
        const event = window[index] as RelayEvent;
        if (ack.status === 'rejected') {
          failure ??= ack.reason;
          return;
        }
        published.push(event);
        this.relayLag.observe((now - event.insertedAt) / 1000);
      });
    }
    return { published, failure };
  }

  private crashIf(point: OutboxCrashPoint): void {
    if (this.settings.crashPoint !== point) return;
    // Written synchronously: the asynchronous logger would lose the line to the SIGKILL.
    writeSync(2, `outbox test hook: killing the process at ${point}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/**
 * The events as multi-row INSERTs (added to `inserted`, for the relay after the commit), prepared
 * on the transaction's connection ({@link executeInTransaction}): an event's JSON (a group's
 * change event holds a hundred jobs' changes) travels as it is instead of escaped into the
 * statement and lexed back by MariaDB. Rows go in statements of a power of two each (a batch of
 * 300: 256, 32, 8 and 4), so a connection prepares at most nine shapes. Not TypeORM's
 * `manager.insert`: it reads every inserted row back (`SELECT id, created_at …`, for the
 * generated columns) and builds the statement through its query builder, an extra statement and
 * most of the CPU of a job kit transaction's outbox write. Nothing here needs the generated id
 * or time back.
 */
async function insertEvents(
  manager: EntityManager,
  subject: EventSubject,
  payloads: readonly unknown[],
  requestId: string | null,
  inserted: RelayEvent[],
): Promise<void> {
  const insertedAt = Date.now();
  for (let offset = 0; offset < payloads.length; ) {
    const rows = largestPowerOfTwoUpTo(payloads.length - offset);
    const values: unknown[] = [];
    for (const payload of payloads.slice(offset, offset + rows)) {
      const event = { eventId: randomUUID(), subject, payload: JSON.stringify(payload), requestId, insertedAt };
      values.push(event.eventId, subject, event.payload, requestId);
      inserted.push(event);
    }
    await executeInTransaction(manager, insertSql(rows), values);
    offset += rows;
  }
}

const insertSqls = new Map<number, string>();

function insertSql(rows: number): string {
  let sql = insertSqls.get(rows);
  if (sql === undefined) {
    sql = `INSERT INTO outbox_event (event_id, subject, payload, request_id) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?)').join(', ')}`;
    insertSqls.set(rows, sql);
  }
  return sql;
}

function largestPowerOfTwoUpTo(count: number): number {
  return 2 ** Math.floor(Math.log2(Math.min(count, INSERT_BATCH)));
}
