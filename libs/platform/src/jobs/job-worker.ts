import { sleep } from '@batchgate/concurrency';
import type { JobWork } from '@batchgate/contracts/common/v1/common';
import { JSONCodec, type Consumer, type ConsumerMessages, type JsMsg } from 'nats';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isDependencyUnreachable } from '../errors';
import { ensureWorkConsumer } from '../messaging';
import { isRetryableSqlError } from './group-commit';
import { jobWorkStream } from './job-kind';
import type { ClaimedItem, CompletionResult, ItemOutcome, JobStore } from './job-store';

const workCodec = JSONCodec<JobWork>();
/** How long one pull waits at the server for a message when the queue is empty. */
const PULL_EXPIRES_MS = 5_000;
/** Longest wait between two tries of a claim or an outcome while MySQL cannot be reached. */
const MAX_OUTAGE_BACKOFF_MS = 5_000;

/** What a handler gets for one item run. */
export interface JobItemRun<P, I> extends ClaimedItem<P, I> {
  /** Aborted when the job is cancelled (on any replica): stop the outside call. */
  signal: AbortSignal;
  /**
   * Aborted when this worker stops. A handler waiting for something (an outside system's
   * outage) may give up then and throw: the item goes back to the queue unrecorded.
   */
  stopping: AbortSignal;
  /** Records the item's progress (0-100) and announces it to watchers. */
  reportProgress(percent: number): Promise<void>;
}

export type JobHandler<P, I, R> = (run: JobItemRun<P, I>) => Promise<R>;

/**
 * A failure that trying again will not cure (the outside system refused the item): the item
 * ends `failed` with this reason at once. Any other error is tried again, until the last
 * allowed run.
 */
export class ItemFailure extends Error {
  /** What the run found out before it failed (stored as the failed item's result). */
  readonly result: unknown;

  constructor(reason: string, options?: { cause?: unknown; result?: unknown }) {
    super(reason, options);
    this.name = 'ItemFailure';
    this.result = options?.result;
  }
}

/** The abort reason of a cancelled job's running items. */
export class JobCancelledError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = 'JobCancelledError';
  }
}

export interface JobWorkerSettings {
  /** Items run at once by this replica. */
  concurrency: number;
  /**
   * Runs of an item (since it was queued) before it ends `failed` with the last error: a handler
   * that throws, or kills its process, every time cannot loop for ever. Counted by the item's
   * claims in the database, so runs on dead replicas count too.
   */
  maxDeliveries: number;
  /** Time without a heartbeat after which JetStream hands a message to another replica. */
  ackWaitMs: number;
  /** Delay before an item whose run threw runs again. */
  retryDelayMs?: number;
  /** Messages delivered and not yet acked over all replicas (JetStream max_ack_pending). */
  maxAckPending?: number;
}

/**
 * Runs one kind's items from its JetStream work queue. A replica pulls a message (a few items)
 * only when one of its `concurrency` slots is free, and heart-beats it while any of its items is
 * waiting or running, so no message outlives its ack wait while its replica lives; claims and
 * outcomes are group-committed by the store (an outcome waits for its commit without a slot); the message is acked once every item in it has a
 * committed outcome (a replica killed mid-item loses nothing: JetStream redelivers the message,
 * finished items are skipped, and the new claim fences the dead run out). A failed run is tried
 * again here after `retryDelayMs`, up to `maxDeliveries` runs; cancels heard from any replica
 * abort running items.
 *
 * A message carries several items: per-item messages cost a JetStream publish, delivery and ack
 * per item, most of the kit's time per job.
 */
export class JobWorker<P, I, R> {
  private consumer: Consumer | undefined;
  private stopChanges: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private pulling: ConsumerMessages | undefined;
  private readonly stopped = new AbortController();
  private free: number;
  /** Items in hand still waiting for a slot: the next message is pulled only for slots they leave. */
  private waiting = 0;
  /** Items whose run ended and whose outcome is not committed yet (they hold no slot). */
  private recording = 0;
  private slotWaiters: Array<() => void> = [];
  private readonly inHand = new Set<Promise<void>>();
  /** Running items per job, to abort on cancel. */
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly items: Counter<'kind' | 'outcome'>;
  private readonly runsStarted: Counter<'kind' | 'consumer'>;
  private readonly duration: Histogram<'kind' | 'outcome'>;
  private readonly jobDuration: Histogram<'kind' | 'status'>;

  constructor(
    private readonly store: JobStore<P, I, R>,
    private readonly handler: JobHandler<P, I, R>,
    private readonly settings: JobWorkerSettings,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    if (!(settings.maxDeliveries >= 1))
      throw new RangeError('JobWorker: maxDeliveries must be ≥ 1');
    if (!(settings.concurrency >= 1)) throw new RangeError('JobWorker: concurrency must be ≥ 1');
    this.free = settings.concurrency;
    this.items = singleMetric(
      registry,
      'jobs_items_total',
      () =>
        new Counter({
          name: 'jobs_items_total',
          help: 'Job item runs ended on this replica, by kind and outcome (success, failed, cancelled, retried, superseded)',
          labelNames: ['kind', 'outcome'],
          registers: registry ? [registry] : [],
        }),
    );
    // By durable consumer too: an alert on a consumer holding messages asks whether its worker
    // still starts anything (deploy/prometheus/rules, BatchgateJobStuckRunning).
    this.runsStarted = singleMetric(
      registry,
      'jobs_item_runs_started_total',
      () =>
        new Counter({
          name: 'jobs_item_runs_started_total',
          help: 'Job item runs started (claimed) on this replica, by kind and durable work-queue consumer',
          labelNames: ['kind', 'consumer'],
          registers: registry ? [registry] : [],
        }),
    );
    this.duration = singleMetric(
      registry,
      'jobs_item_duration_seconds',
      () =>
        new Histogram({
          name: 'jobs_item_duration_seconds',
          help: 'Run time of one job item, claim to committed outcome, by kind and outcome',
          labelNames: ['kind', 'outcome'],
          buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
          registers: registry ? [registry] : [],
        }),
    );
    this.jobDuration = singleMetric(
      registry,
      'jobs_job_duration_seconds',
      () =>
        new Histogram({
          name: 'jobs_job_duration_seconds',
          help: 'Run time of ended jobs (first item started to last item ended), by kind and final status',
          labelNames: ['kind', 'status'],
          buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
          registers: registry ? [registry] : [],
        }),
    );
  }

  async start(): Promise<void> {
    const { subjects } = this.store;
    // Both outcomes exist from the start: a failure rate reads 0 before the first failure.
    for (const outcome of ['success', 'failed'] as const)
      this.items.inc({ kind: this.store.kind.name, outcome }, 0);
    this.stopChanges = this.store.onChange(
      (change) => {
        for (const controller of this.running.get(change.jobId) ?? [])
          controller.abort(new JobCancelledError(change.jobId));
      },
      { status: 'cancelled' },
    );
    this.consumer = await ensureWorkConsumer(this.store.nats, {
      stream: jobWorkStream(this.store.kind.service),
      durable: subjects.durable,
      subject: subjects.work,
      ackWaitMs: this.settings.ackWaitMs,
      maxAckPending: this.settings.maxAckPending ?? 10_000,
    });
    this.loop = this.pull(this.consumer);
  }

  /**
   * Stops pulling; items already running finish and are recorded; the items of a message in
   * hand that had not started yet go back to the queue for another replica.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    // The pull waiting at the server ends now, not when it expires.
    this.pulling?.stop();
    for (const wake of this.slotWaiters.splice(0)) wake();
    await this.loop;
    await Promise.all(this.inHand);
    this.stopChanges?.();
  }

  private async pull(consumer: Consumer): Promise<void> {
    while (!this.stopping) {
      // A slot no item in hand is waiting for: pulling more would hoard messages (and their
      // items) that another replica could run now.
      // Outcomes still being committed hold no slot, but bound what is in hand all the same.
      while (
        (this.free <= this.waiting || this.recording >= this.settings.concurrency) &&
        !this.stopping
      )
        await this.slotChange();
      if (this.stopping) return;
      try {
        const messages = await consumer.fetch({ max_messages: 1, expires: PULL_EXPIRES_MS });
        this.pulling = messages;
        for await (const message of messages) {
          const handled = this.handle(message).finally(() => this.inHand.delete(handled));
          this.inHand.add(handled);
        }
      } catch (error) {
        if (this.stopping) return;
        this.logger.warn(
          { err: error, durable: this.store.subjects.durable },
          'job work queue pull failed; pulling again',
        );
        await sleep(1_000, { signal: this.stopped.signal }).catch(() => undefined);
      }
    }
  }

  /** Resolves at the next release of a slot (or the stop); waiters check again what they wait for. */
  private slotChange(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private async takeSlot(): Promise<boolean> {
    this.waiting++;
    try {
      while (this.free === 0 && !this.stopping) await this.slotChange();
      if (this.stopping) return false;
      this.free--;
      return true;
    } finally {
      this.waiting--;
    }
  }

  private releaseSlot(): void {
    this.free++;
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  /** One message: its items through the slots; acked when all have an outcome, else handed back. */
  private async handle(message: JsMsg): Promise<void> {
    const heartbeat = setInterval(
      () => message.working(),
      Math.max(1_000, Math.floor(this.settings.ackWaitMs / 3)),
    );
    try {
      const { items } = workCodec.decode(message.data);
      // Settled, not raced: handing the message back while some of its items still run would
      // let a redelivery claim them again, and run them twice.
      const settled = await Promise.allSettled(
        items.map(async ({ jobId, seq }) => {
          if (!(await this.takeSlot())) return false;
          let held = true;
          const release = () => {
            if (!held) return;
            held = false;
            this.releaseSlot();
          };
          try {
            return await this.runItem(jobId, seq, release);
          } finally {
            release();
          }
        }),
      );
      const failure = settled.find((outcome) => outcome.status === 'rejected');
      if (failure) throw failure.reason;
      if (settled.every((outcome) => outcome.status === 'fulfilled' && outcome.value)) message.ack();
      else message.nak();
    } catch (error) {
      this.logger.warn(
        { err: error, subject: message.subject },
        'job work message failed; it goes back to the queue',
      );
      message.nak();
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Runs one item to a committed outcome (true), or gives it back to the queue (false, when
   * stopping). The slot is released (`release`) once the run has ended: the outcome's commit
   * waits for its group without holding a slot another item could run in, so the slots' time
   * goes to runs and claims instead of to two commits per item.
   */
  private async runItem(jobId: string, seq: number, release: () => void): Promise<boolean> {
    const kind = this.store.kind.name;
    for (;;) {
      const item = await this.untilReachable(() => this.store.claim(jobId, seq));
      if (item === STOPPED) return false;
      // Ended, cancelled, or already run by another replica.
      if (!item) return true;
      this.runsStarted.inc({ kind, consumer: this.store.subjects.durable });
      if (item.tries > this.settings.maxDeliveries) {
        // The previous runs never recorded an outcome: their worker died or stalled each time.
        const reason = `gave up after ${this.settings.maxDeliveries} runs: the worker stopped during each (crash or timeout)`;
        release();
        return this.record(item, { ok: false, reason }, 'failed');
      }
      const startedAt = performance.now();
      const controller = new AbortController();
      const running = this.running.get(jobId) ?? new Set();
      this.running.set(jobId, running.add(controller));
      let outcome: ItemOutcome<R>;
      try {
        outcome = {
          ok: true,
          result: await this.handler({
            ...item,
            signal: controller.signal,
            stopping: this.stopped.signal,
            reportProgress: (percent) =>
              this.store.reportProgress(jobId, seq, item.attempt, percent),
          }),
        };
      } catch (error) {
        if (controller.signal.reason instanceof JobCancelledError) {
          // The cancel recorded the item already.
          this.items.inc({ kind, outcome: 'cancelled' });
          this.duration.observe(
            { kind, outcome: 'cancelled' },
            (performance.now() - startedAt) / 1000,
          );
          return true;
        }
        // Given up because the worker stops: not the item's failure; another replica runs it.
        if (this.stopping && !(error instanceof ItemFailure)) return false;
        const reason = error instanceof Error ? error.message : String(error);
        const last = item.tries >= this.settings.maxDeliveries;
        if (!(error instanceof ItemFailure) && !last) {
          this.items.inc({ kind, outcome: 'retried' });
          this.logger.warn(
            { err: error, jobId, seq, tries: item.tries },
            'job item failed; it runs again',
          );
          await sleep(this.settings.retryDelayMs ?? 2_000, { signal: this.stopped.signal }).catch(
            () => undefined,
          );
          if (this.stopping) return false;
          continue;
        }
        const detail =
          error instanceof ItemFailure || this.settings.maxDeliveries === 1
            ? reason
            : `failed ${item.tries} times; last: ${reason}`;
        outcome =
          error instanceof ItemFailure && error.result !== undefined
            ? { ok: false, reason: detail, result: error.result as R }
            : { ok: false, reason: detail };
      } finally {
        running.delete(controller);
        if (running.size === 0) this.running.delete(jobId);
      }
      release();
      return this.record(item, outcome, outcome.ok ? 'success' : 'failed', startedAt);
    }
  }

  private async record(
    item: ClaimedItem<P, I>,
    outcome: ItemOutcome<R>,
    label: 'success' | 'failed',
    startedAt?: number,
  ): Promise<boolean> {
    this.recording++;
    let completion: CompletionResult | typeof STOPPED;
    try {
      completion = await this.untilReachable(() =>
        this.store.complete({ jobId: item.jobId, seq: item.seq, attempt: item.attempt, outcome }),
      );
    } finally {
      this.recording--;
      for (const wake of this.slotWaiters.splice(0)) wake();
    }
    if (completion === STOPPED) return false;
    this.observe(completion, label, startedAt);
    return true;
  }

  /**
   * Runs a claim or an outcome, waiting out a MySQL outage, or a storm of deadlocks beyond the
   * store's own retries (after an outage every replica's groups write at once), instead of
   * failing the item (neither is the item's fault); gives up only when the worker stops.
   */
  private async untilReachable<T>(write: () => Promise<T>): Promise<T | typeof STOPPED> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        const transient = isDependencyUnreachable(error) || isRetryableSqlError(error);
        if (!transient || this.stopping) throw error;
        if (attempt === 0)
          this.logger.warn({ err: error }, 'job store unreachable or deadlocked; the item waits');
        await sleep(Math.min(MAX_OUTAGE_BACKOFF_MS, 100 * 2 ** attempt), {
          signal: this.stopped.signal,
        }).catch(() => undefined);
        if (this.stopping) return STOPPED;
      }
    }
  }

  private observe(
    completion: CompletionResult,
    outcome: 'success' | 'failed',
    startedAt?: number,
  ): void {
    const kind = this.store.kind.name;
    const label = completion.counted ? outcome : 'superseded';
    this.items.inc({ kind, outcome: label });
    if (completion.jobFinished)
      this.jobDuration.observe(
        { kind, status: completion.jobFinished.status },
        completion.jobFinished.seconds,
      );
    if (startedAt !== undefined)
      this.duration.observe({ kind, outcome: label }, (performance.now() - startedAt) / 1000);
  }
}

const STOPPED = Symbol('stopped');

/** Metrics shared by every kind of one registry (a service may run several kinds). */
function singleMetric<T>(registry: Registry | undefined, name: string, create: () => T): T {
  return ((registry?.getSingleMetric(name) as T | undefined) ?? create()) as T;
}
