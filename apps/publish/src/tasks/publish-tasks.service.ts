import { Inject, Injectable } from '@nestjs/common';
import type { JobChanged } from '@batchgate/contracts/common/v1/common';
import type {
  Article,
  PublishTask,
  PublishTaskList,
  SubmitArticleBatchResponse,
  SubmitArticleResponse,
  SubmitArticleResult,
} from '@batchgate/contracts/publish/v1/publish';
import { DomainError } from '@batchgate/platform/errors';
import {
  ITEM_STATUSES,
  isTerminalJobStatus,
  JobStore,
  watchJob,
  type ItemStatus,
  type JobItemSnapshot,
  type JobOwner,
  type JobSnapshot,
  type JobStatus,
} from '@batchgate/platform/jobs';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { PageWindow } from '@batchgate/platform/paging';
import { Observable } from 'rxjs';
import type { PublishConfig } from '../config/publish.config';
import { RunAdmission } from '../limits/run-admission';
import { UserLimits } from '../limits/user-limits';
import { publishErrors } from '../publish.errors';
import { PublishMetrics } from '../publish.metrics';
import { PUBLISH_JOB_STORE, type ArticlePayload, type PublishParams, type Published } from './publish-jobs';

/** Bounds of an article (the gateway checks the same; the platform takes at most 500 / 500,000). */
export const ARTICLE_LIMITS = { title: 200, content: 200_000, articleId: 64, batch: 100 } as const;

type Store = JobStore<PublishParams, ArticlePayload, Published>;
type Item = JobItemSnapshot<ArticlePayload, Published>;

/** Other owners' task ids a live list remembers, so their changes are not read again (cleared when full). */
const FOREIGN_REMEMBERED = 10_000;
const RETRYABLE: readonly JobStatus[] = ['failed', 'cancelled'];
const QUEUED_MESSAGE = 'Publish task created; it runs in the background';
const PENDING_MESSAGE = 'Publish task created; it runs when one of your running tasks has finished';

/** A task's views, from its one-item job. */
@Injectable()
export class PublishTasksService {
  constructor(
    @Inject(PUBLISH_JOB_STORE) private readonly jobs: Store,
    @Inject(UserLimits) private readonly limits: UserLimits,
    @Inject(RunAdmission) private readonly admission: RunAdmission,
    @Inject(PublishMetrics) private readonly metrics: PublishMetrics,
    @Inject(SERVICE_CONFIG) private readonly config: PublishConfig,
  ) {}

  /**
   * Stores the task (pending) before answering, then admits it: `queued` when one of the user's
   * running slots took it, `pending` while it waits for one. Over the user's per-minute limit:
   * RESOURCE_EXHAUSTED with the seconds until an acceptance frees up.
   */
  async submit(owner: JobOwner, article: Article | undefined): Promise<SubmitArticleResponse> {
    const payload = checkArticle(article, 'article');
    const grant = await this.limits.reserve(owner, 1);
    if (grant.granted === 0) {
      this.metrics.submissions.inc({ outcome: 'rate_limited' });
      throw this.rateLimited(grant.retryAfterSeconds);
    }
    const job = await this.store(owner, payload).catch(async (error: unknown) => {
      await this.limits.giveBack(grant.reservation, 1);
      throw error;
    });
    this.metrics.submissions.inc({ outcome: 'accepted' });
    const queued = await this.admission.admit(owner);
    const status = queued.has(job.id) ? 'queued' : 'pending';
    return { success: true, taskId: job.id, status, message: status === 'queued' ? QUEUED_MESSAGE : PENDING_MESSAGE };
  }

  /**
   * One task per article. Every article is checked before anything is stored (a bad one refuses
   * the batch); what fits in the user's per-minute limit is accepted, and each article over it
   * is reported with the limit's error (none fitting: RESOURCE_EXHAUSTED for the whole batch).
   */
  async submitBatch(owner: JobOwner, articles: Article[]): Promise<SubmitArticleBatchResponse> {
    if (articles.length < 1 || articles.length > ARTICLE_LIMITS.batch) {
      throw publishErrors.invalidArticle(`a batch holds 1-${ARTICLE_LIMITS.batch} articles`, 'articles');
    }
    const payloads = articles.map((article, index) => checkArticle(article, `articles[${index}]`));
    const grant = await this.limits.reserve(owner, payloads.length);
    if (grant.granted === 0) {
      this.metrics.submissions.inc({ outcome: 'rate_limited' }, payloads.length);
      throw this.rateLimited(grant.retryAfterSeconds);
    }
    const accepted = payloads.slice(0, grant.granted);
    // Submitted together, the kit writes them in one group commit.
    const stored = await Promise.allSettled(accepted.map((payload) => this.store(owner, payload)));
    await this.limits.giveBack(grant.reservation, stored.filter((outcome) => outcome.status === 'rejected').length);
    const queued = await this.admission.admit(owner);
    const limited = this.rateLimited(grant.retryAfterSeconds);
    const results: SubmitArticleResult[] = payloads.map((_, index) => {
      const outcome = stored[index];
      if (!outcome) return { taskId: '', status: '', error: limited.message, errorCode: limited.code, retryAfterSeconds: grant.retryAfterSeconds };
      if (outcome.status === 'rejected') {
        const error = outcome.reason instanceof DomainError ? outcome.reason : undefined;
        return { taskId: '', status: '', error: error?.message ?? 'the task could not be stored', errorCode: error?.code ?? 'INTERNAL', retryAfterSeconds: 0 };
      }
      const id = outcome.value.id;
      return { taskId: id, status: queued.has(id) ? 'queued' : 'pending', error: '', errorCode: '', retryAfterSeconds: 0 };
    });
    const successCount = results.filter((result) => result.taskId !== '').length;
    this.metrics.submissions.inc({ outcome: 'accepted' }, successCount);
    this.metrics.submissions.inc({ outcome: 'rate_limited' }, payloads.length - accepted.length);
    return { success: successCount === results.length, total: results.length, successCount, failedCount: results.length - successCount, results };
  }

  async get(owner: JobOwner, taskId: string): Promise<PublishTask> {
    const job = await this.jobs.get(owner, taskId);
    const items = await this.jobs.itemsOf(owner, [job.id]);
    return toPublishTask(job, items.get(job.id)?.[0]);
  }

  async list(owner: JobOwner, status: string, window: PageWindow): Promise<{ tasks: PublishTask[]; total: number }> {
    if (status !== '' && !(ITEM_STATUSES as readonly string[]).includes(status)) throw publishErrors.invalidStatus(ITEM_STATUSES);
    const { jobs, total } = await this.jobs.list(owner, { page: window.page, size: window.size, ...(status ? { status: status as JobStatus } : {}) });
    const items = await this.jobs.itemsOf(
      owner,
      jobs.map((job) => job.id),
    );
    return { tasks: jobs.map((job) => toPublishTask(job, items.get(job.id)?.[0])), total };
  }

  /** Pending and queued tasks only: a running publish is not taken back (PUBLISH.JOB_RUNNING, 409). */
  async cancel(owner: JobOwner, taskId: string): Promise<PublishTask> {
    await this.jobs.cancel(owner, taskId, { running: 'refuse' });
    return this.get(owner, taskId);
  }

  /**
   * A failed or cancelled task runs again (PUBLISH.NOTHING_TO_RETRY otherwise), through the
   * same admission as a new one: it counts against the per-minute limit and waits for a slot.
   */
  async retry(owner: JobOwner, taskId: string): Promise<PublishTask> {
    // Not found (404) and not retryable (409) come before the rate limit: only a retry that can
    // happen spends an acceptance (the kit's retry refuses the others with NOTHING_TO_RETRY).
    const job = await this.jobs.get(owner, taskId);
    const grant = RETRYABLE.includes(job.status) ? await this.limits.reserve(owner, 1) : undefined;
    if (grant?.granted === 0) throw this.rateLimited(grant.retryAfterSeconds);
    try {
      await this.jobs.retry(owner, taskId, { hold: true });
    } catch (error) {
      if (grant) await this.limits.giveBack(grant.reservation, 1);
      throw error;
    }
    await this.admission.admit(owner);
    return this.get(owner, taskId);
  }

  /** The task now, then after every committed change, until it ends. */
  watch(owner: JobOwner, taskId: string): Observable<PublishTask> {
    return watchJob(this.jobs, owner, taskId, (job, change) => this.snapshot(owner, job, change));
  }

  /**
   * The owner's newest `size` tasks now, then each committed change of any of the owner's tasks,
   * until the caller stops listening. Every replica's changes arrive on the kit's change events,
   * which name only the task: a task's owner is read once (and remembered), so another owner's
   * changes cost one read each, not one per change. A task is read in full when first seen and
   * when it ends (for its URL); in between its changes patch the view they carry.
   */
  watchAll(owner: JobOwner, size: number): Observable<PublishTaskList> {
    return new Observable<PublishTaskList>((subscriber) => {
      const views = new Map<string, PublishTask>();
      const foreign = new Set<string>();
      const early: JobChanged[] = [];
      let listed = false;
      let emitting: Promise<void> = Promise.resolve();
      const follow = (change: JobChanged) => {
        emitting = emitting
          .then(async () => {
            if (subscriber.closed || foreign.has(change.jobId)) return;
            const known = views.get(change.jobId);
            const item = change.items[0];
            let view: PublishTask | undefined;
            if (known && item && !isTerminalJobStatus(change.status)) {
              view = { ...known, status: change.status, progress: item.progress, attempts: item.attempts, errorMessage: item.errorMessage };
            } else {
              view = await this.find(owner, change.jobId);
              if (!view) {
                if (foreign.size >= FOREIGN_REMEMBERED) foreign.clear();
                foreign.add(change.jobId);
                return;
              }
            }
            views.set(change.jobId, view);
            subscriber.next({ tasks: [view] });
          })
          .catch((error: unknown) => subscriber.error(error));
      };
      // Entered before the first read, so no change falls between the list and the stream.
      const unsubscribe = this.jobs.onChange((change) => (listed ? follow(change) : early.push(change)));
      this.list(owner, '', { page: 1, size, offset: 0, limit: size }).then(
        ({ tasks }) => {
          for (const task of tasks) views.set(task.taskId, task);
          subscriber.next({ tasks });
          listed = true;
          for (const change of early.splice(0)) follow(change);
        },
        (error: unknown) => subscriber.error(error),
      );
      return unsubscribe;
    });
  }

  /** The owner's task, or undefined (also for another owner's id). */
  private async find(owner: JobOwner, taskId: string): Promise<PublishTask | undefined> {
    const job = await this.jobs.find(owner, taskId);
    if (!job) return undefined;
    const items = await this.jobs.itemsOf(owner, [job.id]);
    return toPublishTask(job, items.get(job.id)?.[0]);
  }

  private async snapshot(owner: JobOwner, job: JobSnapshot<PublishParams>, change: JobChanged | undefined): Promise<PublishTask> {
    const changed = change?.items[0];
    // The change carries the item's state, not its result: read the item for the URL at the end.
    if (changed && !isTerminalJobStatus(job.status)) {
      return toPublishTask(job, { status: changed.status as ItemStatus, progress: changed.progress, attempts: changed.attempts, errorMessage: changed.errorMessage || null, result: null });
    }
    const items = await this.jobs.itemsOf(owner, [job.id]);
    return toPublishTask(job, items.get(job.id)?.[0]);
  }

  private store(owner: JobOwner, payload: ArticlePayload): Promise<JobSnapshot<PublishParams>> {
    return this.jobs.submit(owner, {
      params: { articleTitle: payload.title, articleId: payload.articleId },
      items: [{ payload }],
      hold: true,
    });
  }

  private rateLimited(retryAfterSeconds: number): DomainError {
    return publishErrors.rateLimited({
      limit: this.config.PUBLISH_USER_RATE_LIMIT,
      windowMs: this.config.PUBLISH_USER_RATE_WINDOW_MS,
      retryAfterSeconds,
    });
  }
}

function checkArticle(article: Article | undefined, field: string): ArticlePayload {
  if (!article) throw publishErrors.invalidArticle(`${field} is required`, field);
  const bounded = (value: string, name: keyof typeof ARTICLE_LIMITS) => {
    if (value.trim().length === 0 || value.length > ARTICLE_LIMITS[name]) {
      throw publishErrors.invalidArticle(`${field}.${name} must be 1-${ARTICLE_LIMITS[name]} characters, not blank`, `${field}.${name}`);
    }
    return value;
  };
  return { title: bounded(article.title, 'title'), content: bounded(article.content, 'content'), articleId: bounded(article.articleId, 'articleId') };
}

type ItemView = Pick<Item, 'status' | 'progress' | 'attempts' | 'errorMessage' | 'result'>;

/** The seed's task shape; times RFC 3339, empty while unset. */
export function toPublishTask(job: JobSnapshot<PublishParams>, item: ItemView | undefined): PublishTask {
  return {
    taskId: job.id,
    status: job.status,
    progress: item?.progress ?? 0,
    articleTitle: job.params.articleTitle,
    articleId: job.params.articleId,
    resultUrl: item?.result?.url ?? '',
    errorMessage: item?.errorMessage ?? '',
    attempts: item?.attempts ?? 0,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? '',
    finishedAt: job.finishedAt?.toISOString() ?? '',
  };
}
