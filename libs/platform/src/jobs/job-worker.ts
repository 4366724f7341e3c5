import type { ConcurrencyMetricsListener } from '@batchgate/concurrency';
import type { Subscription } from 'nats';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isDependencyUnreachable } from '../errors';
import { consumeWorkQueue } from '../messaging';
import { jobWorkStream } from './job-kind';
import type { ClaimedItem, CompletionResult, JobStore } from './job-store';

/** What a handler gets for one item run. */
export interface JobItemRun<P, I> extends ClaimedItem<P, I> {
  /** Aborted when the job is cancelled (on any replica): stop the outside call. */
  signal: AbortSignal;
  /** Records the item's progress (0-100) and announces it to watchers. */
  reportProgress(percent: number): Promise<void>;
}

export type JobHandler<P, I, R> = (run: JobItemRun<P, I>) => Promise<R>;

/**
 * A failure that trying again will not cure (the outside system refused the item): the item
 * ends `failed` with this reason at once. Any other error is tried again on a later delivery,
 * until the last allowed one.
 */
export class ItemFailure extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'ItemFailure';
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
   * claims in the database, not by JetStream's deliveries, which also count messages that waited
   * in a replica's buffer and never reached a handler.
   */
  maxDeliveries: number;
  /** Time without a heartbeat after which JetStream hands the item to another replica. */
  ackWaitMs: number;
  /** Delay before an item whose run threw is delivered again. */
  retryDelayMs?: number;
  /** Items delivered and not yet acked over all replicas (JetStream max_ack_pending). */
  maxAckPending?: number;
}

/**
 * Runs one kind's items from its JetStream work queue: bounded concurrency per replica,
 * heart-beating while an item runs (so a long item is not handed to another replica while its
 * worker lives), claim and outcome group-committed by the store, the message acked only after
 * the outcome is committed (a worker killed mid-item loses nothing: JetStream redelivers, the
 * claim fences the dead run out), and cancels heard from every replica abort running items.
 */
export class JobWorker<P, I, R> {
  private consumer: { stop: () => Promise<void> } | undefined;
  private cancels: Subscription | undefined;
  /** Running items per job, to abort on cancel. */
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly items: Counter<'kind' | 'outcome'>;
  private readonly duration: Histogram<'kind' | 'outcome'>;

  constructor(
    private readonly store: JobStore<P, I, R>,
    private readonly handler: JobHandler<P, I, R>,
    private readonly settings: JobWorkerSettings,
    private readonly logger: Logger,
    registry?: Registry,
    private readonly metrics?: ConcurrencyMetricsListener,
  ) {
    if (!(settings.maxDeliveries >= 1))
      throw new RangeError('JobWorker: maxDeliveries must be ≥ 1');
    this.items = singleMetric(
      registry,
      'jobs_items_total',
      () =>
        new Counter({
          name: 'jobs_items_total',
          help: 'Job items whose run ended on this replica, by kind and outcome (success, failed, cancelled, retried, superseded)',
          labelNames: ['kind', 'outcome'],
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
  }

  async start(): Promise<void> {
    const { subjects } = this.store;
    // Core NATS: the cancel's change event, published by the outbox relay of whichever replica.
    this.cancels = this.store.nats.subscribe(subjects.cancels, {
      callback: (error, message) => {
        if (error) return;
        const jobId = message.subject.slice(message.subject.lastIndexOf('.') + 1);
        for (const controller of this.running.get(jobId) ?? [])
          controller.abort(new JobCancelledError(jobId));
      },
    });
    this.consumer = await consumeWorkQueue(
      this.store.nats,
      {
        stream: jobWorkStream(this.store.kind.service),
        durable: subjects.durable,
        subject: subjects.work,
        concurrency: this.settings.concurrency,
        maxAckPending: this.settings.maxAckPending ?? 10_000,
        ackWaitMs: this.settings.ackWaitMs,
        retryDelayMs: this.settings.retryDelayMs,
        handler: (work) => this.run(work.jobId, work.seq),
        metrics: this.metrics,
      },
      this.logger,
    );
  }

  /** Stops taking items and finishes the ones in hand. */
  async stop(): Promise<void> {
    this.cancels?.unsubscribe();
    await this.consumer?.stop();
  }

  private async run(jobId: string, seq: number): Promise<void> {
    const kind = this.store.kind.name;
    const item = await this.store.claim(jobId, seq);
    if (!item) return;
    if (item.tries > this.settings.maxDeliveries) {
      // The previous runs never recorded an outcome: their worker died or stalled each time.
      const reason = `gave up after ${this.settings.maxDeliveries} runs: the worker stopped during each (crash or timeout)`;
      this.observe(
        await this.store.complete({
          jobId,
          seq,
          attempt: item.attempt,
          outcome: { ok: false, reason },
        }),
        'failed',
      );
      return;
    }
    const startedAt = performance.now();
    const controller = new AbortController();
    const running = this.running.get(jobId) ?? new Set();
    this.running.set(jobId, running.add(controller));
    const elapsed = () => (performance.now() - startedAt) / 1000;
    try {
      let result: R;
      try {
        result = await this.handler({
          ...item,
          signal: controller.signal,
          reportProgress: (percent) => this.store.reportProgress(jobId, seq, item.attempt, percent),
        });
      } catch (error) {
        if (controller.signal.reason instanceof JobCancelledError) {
          // The cancel already recorded the item.
          this.items.inc({ kind, outcome: 'cancelled' });
          this.duration.observe({ kind, outcome: 'cancelled' }, elapsed());
          return;
        }
        const reason = error instanceof Error ? error.message : String(error);
        const last = item.tries >= this.settings.maxDeliveries;
        if (!(error instanceof ItemFailure) && (isDependencyUnreachable(error) || !last)) {
          this.items.inc({ kind, outcome: 'retried' });
          throw error;
        }
        const detail =
          error instanceof ItemFailure || this.settings.maxDeliveries === 1
            ? reason
            : `failed ${item.tries} times; last: ${reason}`;
        this.observe(
          await this.store.complete({
            jobId,
            seq,
            attempt: item.attempt,
            outcome: { ok: false, reason: detail },
          }),
          'failed',
          elapsed(),
        );
        return;
      }
      this.observe(
        await this.store.complete({
          jobId,
          seq,
          attempt: item.attempt,
          outcome: { ok: true, result },
        }),
        'success',
        elapsed(),
      );
    } finally {
      running.delete(controller);
      if (running.size === 0) this.running.delete(jobId);
    }
  }

  private observe(
    completion: CompletionResult,
    outcome: 'success' | 'failed',
    seconds?: number,
  ): void {
    const kind = this.store.kind.name;
    const label = completion.counted ? outcome : 'superseded';
    this.items.inc({ kind, outcome: label });
    if (seconds !== undefined) this.duration.observe({ kind, outcome: label }, seconds);
  }
}

/** Metrics shared by every kind of one registry (a service may run several kinds). */
function singleMetric<T>(registry: Registry | undefined, name: string, create: () => T): T {
  return ((registry?.getSingleMetric(name) as T | undefined) ?? create()) as T;
}
