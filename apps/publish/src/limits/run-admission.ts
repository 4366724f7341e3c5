import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { isTerminalJobStatus, JobStore, type JobOwner } from '@batchgate/platform/jobs';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { PublishConfig } from '../config/publish.config';
import { PUBLISH_JOB_STORE, type ArticlePayload, type PublishParams, type Published } from '../tasks/publish-jobs';
import { UserLimits } from './user-limits';

/** Users admitted per sweep: the rest wait for the next one (their events admit them sooner). */
const SWEEP_USERS = 200;

/**
 * Queues a user's waiting tasks as their running slots free up. Tasks are stored `pending`
 * (held); admission gives them slots ({@link UserLimits.admit}) and releases them onto the work
 * queue. It runs after each submission and retry, when any replica's task ends (every replica
 * hears the change event; the user's slot lock makes the repeats harmless), and in a sweep, for
 * what a crash between assigning a slot and releasing its task left waiting.
 */
@Injectable()
export class RunAdmission implements OnApplicationBootstrap, OnModuleDestroy {
  private stopChanges: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(PUBLISH_JOB_STORE) private readonly jobs: JobStore<PublishParams, ArticlePayload, Published>,
    @Inject(UserLimits) private readonly limits: UserLimits,
    @Inject(SERVICE_CONFIG) private readonly config: PublishConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.stopChanges = this.jobs.onChange((change) => {
      if (!isTerminalJobStatus(change.status)) return;
      void this.limits
        .ownerOf(change.jobId)
        .then((owner) => (owner ? this.admit(owner) : undefined))
        .catch((error: unknown) => this.logger.warn({ err: error, taskId: change.jobId }, 'admission after a task ended failed; the sweep retries'));
    });
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.PUBLISH_ADMISSION_SWEEP_MS);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
    this.stopChanges?.();
  }

  /** Admits what the user's free slots allow; answers the tasks it queued. */
  async admit(owner: JobOwner): Promise<Set<string>> {
    const ids = await this.limits.admit(owner);
    if (ids.length === 0) return new Set();
    // One transaction for all of them, not read back (a release each was ~10 statements).
    const refused = await this.jobs.releaseAll(ids.map((id) => ({ owner, id })));
    const queued = new Set<string>();
    for (const [index, error] of refused.entries()) {
      if (!error) {
        queued.add(ids[index] as string);
        continue;
      }
      // Another replica's admission released it first, or the owner cancelled it meanwhile.
      if (error.code !== 'PUBLISH.JOB_NOT_PENDING' && error.code !== 'PUBLISH.JOB_NOT_FOUND') throw error;
    }
    return queued;
  }

  private async sweep(): Promise<void> {
    try {
      for (const owner of await this.limits.usersWaiting(SWEEP_USERS)) await this.admit(owner);
    } catch (error) {
      this.logger.warn({ err: error }, 'admission sweep failed; the next one tries again');
    }
  }
}
