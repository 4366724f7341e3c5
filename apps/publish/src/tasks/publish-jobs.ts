import { defineJobKind } from '@batchgate/platform/jobs';

/** What a task's job row keeps for its views (the article itself is the item's payload). */
export interface PublishParams {
  articleTitle: string;
  /** The caller's own id of the article (seed 003's article table). */
  articleId: string;
}

export interface ArticlePayload {
  title: string;
  content: string;
  articleId: string;
}

/** A verified publish: where the article is, and the platform's id of it. */
export interface Published {
  url: string;
  platformArticleId: string;
}

/**
 * Publish tasks on the job kit: a task is a one-item job (its id is the task id, the idempotency
 * key of its publish), so every task is queued, run, cancelled and retried on its own, and a
 * batch is one job per article (seed 003 gives each article of a batch its own task_id).
 */
export const PUBLISH_JOBS = defineJobKind<PublishParams, ArticlePayload, Published>({
  service: 'publish',
  name: 'article',
  errorPrefix: 'PUBLISH',
  label: 'Publish task',
});

/** Injection token of the service's JobStore of {@link PUBLISH_JOBS}. */
export const PUBLISH_JOB_STORE = Symbol('PUBLISH_JOB_STORE');
