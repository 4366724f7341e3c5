import { writeSync } from 'node:fs';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ItemFailure, JobStore, JobWorker, type JobItemRun } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { PublishConfig } from '../config/publish.config';
import { PublishingPlatformClient, PublishRefused, VerificationTimedOut } from '../platform/publishing-platform.client';
import { PublishMetrics } from '../publish.metrics';
import { PUBLISH_JOB_STORE, type ArticlePayload, type PublishParams, type Published } from '../tasks/publish-jobs';

/** Progress of a run (0-100) at each of its steps; the kit sets 0 at the claim and 100 at success. */
export const PUBLISH_PROGRESS = { publishing: 20, verifying: 60 } as const;

/**
 * Runs publish tasks from the JetStream work queue, PUBLISH_WORKER_CONCURRENCY at once per
 * replica (seed 003's four RQ workers), heart-beating each so a live worker keeps its task;
 * a dead one's task runs again on another replica after PUBLISH_ACK_WAIT_MS.
 *
 * Never published twice: the publish carries the task id as its idempotency key (the platform
 * answers the same article for it), and a run after the first asks the platform for the key's
 * article before publishing again, so a run whose answer was lost does not repeat the effect.
 */
@Injectable()
export class PublishWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private worker: JobWorker<PublishParams, ArticlePayload, Published> | undefined;

  constructor(
    @Inject(PUBLISH_JOB_STORE) private readonly jobs: JobStore<PublishParams, ArticlePayload, Published>,
    @Inject(PublishingPlatformClient) private readonly platform: PublishingPlatformClient,
    @Inject(PublishMetrics) private readonly metrics: PublishMetrics,
    @Inject(SERVICE_CONFIG) private readonly config: PublishConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(Registry) private readonly registry: Registry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.worker = new JobWorker(
      this.jobs,
      (run) => this.publish(run),
      {
        concurrency: this.config.PUBLISH_WORKER_CONCURRENCY,
        maxDeliveries: this.config.PUBLISH_MAX_DELIVERIES,
        ackWaitMs: this.config.PUBLISH_ACK_WAIT_MS,
        retryDelayMs: this.config.PUBLISH_RETRY_DELAY_MS,
      },
      this.logger,
      this.registry,
    );
    await this.worker.start();
  }

  /** Before NATS drains: running publishes are given up and, with the unstarted ones, go back to the queue. */
  async onModuleDestroy(): Promise<void> {
    await this.worker?.stop();
  }

  private async publish(run: JobItemRun<PublishParams, ArticlePayload>): Promise<Published> {
    const crashOn = this.config.PUBLISH_TEST_CRASH_TITLE;
    if (crashOn !== '' && run.payload.title.includes(crashOn)) {
      // Written synchronously: the asynchronous logger would lose the line to the SIGKILL.
      writeSync(2, `PUBLISH_TEST_CRASH_TITLE: task ${run.jobId} (attempt ${run.attempt}) kills its worker\n`);
      process.kill(process.pid, 'SIGKILL');
    }
    const key = run.jobId;
    // A stopping worker gives its publishes up rather than holding the shutdown for them: the task
    // goes back to the queue, and the next run asks the platform for its article before publishing.
    const signal = AbortSignal.any([run.signal, run.stopping]);
    try {
      let article = run.attempt > 1 ? await this.platform.findByKey(key, signal) : undefined;
      if (article) {
        this.metrics.alreadyPublished.inc();
      } else {
        const reported = besideTheCall(run.reportProgress(PUBLISH_PROGRESS.publishing));
        article = await this.platform.publish(run.payload, key, signal);
        await reported;
      }
      const reported = besideTheCall(run.reportProgress(PUBLISH_PROGRESS.verifying));
      const published = { url: article.url, platformArticleId: article.articleId };
      const verifying = performance.now();
      let timedOut: VerificationTimedOut | undefined;
      try {
        await this.platform.waitUntilVisible(article.url, {
          timeoutMs: this.config.PUBLISH_VERIFY_TIMEOUT_MS,
          pollMs: this.config.PUBLISH_VERIFY_POLL_MS,
          signal,
        });
      } catch (error) {
        if (!(error instanceof VerificationTimedOut)) throw error;
        timedOut = error;
      }
      const verifySeconds = (performance.now() - verifying) / 1000;
      await reported;
      if (timedOut) {
        this.metrics.verifyDuration.observe({ outcome: 'timeout' }, verifySeconds);
        this.metrics.publishes.inc({ outcome: 'unverified' });
        // The URL stays on the failed task: the article may still appear; a retry checks it again without publishing.
        throw new ItemFailure(timedOut.message, { result: published });
      }
      this.metrics.verifyDuration.observe({ outcome: 'visible' }, verifySeconds);
      this.metrics.publishes.inc({ outcome: 'published' });
      return published;
    } catch (error) {
      if (error instanceof PublishRefused) {
        this.metrics.publishes.inc({ outcome: 'refused' });
        throw new ItemFailure(`the platform refused the article: ${error.platformMessage}`);
      }
      if (!(error instanceof ItemFailure)) this.metrics.publishes.inc({ outcome: 'error' });
      throw error;
    }
  }
}

/**
 * A step's progress write (a transaction of its own) runs while the step's platform call does,
 * not before it: waiting for its commit first put two commits into every run's 1.5 s. It is
 * awaited before the next step, so the steps' progress is written in order; a write that fails
 * still fails the run (run again: the platform is asked for the key's article first). Marked
 * handled at once, for a call that throws before it is awaited.
 */
function besideTheCall(write: Promise<void>): Promise<void> {
  write.catch(() => undefined);
  return write;
}
