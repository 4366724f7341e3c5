import type { FetchInteractionsResponse, PublishStats, PublishStatsResponse, PublishTask, SubmitArticleBatchResponse } from '@batchgate/contracts/publish/v1/publish';
import type { BatchSubmittedView, InteractionsView, PublishStatsAnswerView, PublishStatsView, PublishTaskView } from './publish.dto';

/** proto3 leaves unset strings empty; the seed's shape says null. */
const orNull = (value: string): string | null => (value === '' ? null : value);

export function toTaskView(task: PublishTask): PublishTaskView {
  return {
    task_id: task.taskId,
    status: task.status,
    progress: task.progress,
    article_title: task.articleTitle,
    article_id: task.articleId === '' ? null : Number(task.articleId),
    result_url: orNull(task.resultUrl),
    error_message: orNull(task.errorMessage),
    attempts: task.attempts,
    created_at: task.createdAt,
    started_at: orNull(task.startedAt),
    finished_at: orNull(task.finishedAt),
  };
}

export function toBatchView(answer: SubmitArticleBatchResponse): BatchSubmittedView {
  return {
    success: answer.success,
    total: answer.total,
    success_count: answer.successCount,
    failed_count: answer.failedCount,
    results: answer.results.map((result) =>
      result.taskId !== ''
        ? { task_id: result.taskId, status: result.status }
        : { error: result.error, error_code: result.errorCode, ...(result.retryAfterSeconds > 0 ? { retry_after: result.retryAfterSeconds } : {}) },
    ),
  };
}

export function toInteractionsView(answer: FetchInteractionsResponse): InteractionsView {
  const results = answer.articles.map((article) => ({
    task_id: article.taskId,
    article_id: article.articleId === '' ? null : Number(article.articleId),
    article_url: article.resultUrl,
    success: article.success,
    likes: article.likes,
    comments: article.comments,
    shares: article.shares,
    error: orNull(article.error),
    fetched_at: article.fetchedAt,
  }));
  const successCount = results.filter((result) => result.success).length;
  return { success: true, total: results.length, success_count: successCount, failed_count: results.length - successCount, results };
}

function toStatsView(stats: PublishStats | undefined): PublishStatsView {
  return {
    total: stats?.total ?? 0,
    succeeded: stats?.succeeded ?? 0,
    failed: stats?.failed ?? 0,
    success_rate: stats?.successRate ?? 0,
    duration_p50_ms: stats?.durationP50Ms ?? 0,
    duration_p95_ms: stats?.durationP95Ms ?? 0,
    duration_p99_ms: stats?.durationP99Ms ?? 0,
  };
}

export function toStatsAnswerView(answer: PublishStatsResponse): PublishStatsAnswerView {
  return { success: true, user: toStatsView(answer.user), overall: toStatsView(answer.tenant) };
}
