import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runBatch, timeout } from '@batchgate/concurrency';
import type { ArticleInteractions } from '@batchgate/contracts/publish/v1/publish';
import { currentRequestSignal } from '@batchgate/platform/context';
import type { JobOwner } from '@batchgate/platform/jobs';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { PublishConfig } from '../config/publish.config';
import { PublishingPlatformClient } from '../platform/publishing-platform.client';
import { PUBLISH_JOBS } from '../tasks/publish-jobs';

interface PublishedRow {
  task_id: string;
  article_id: string | null;
  result: unknown;
}

/**
 * Seed 002's interaction fetching: the like / comment / share counts of the user's published
 * articles (tasks that ended `success`), PUBLISH_INTERACTIONS_CONCURRENCY (3) at once, each
 * bounded by PUBLISH_INTERACTIONS_TIMEOUT_MS (30 s); the counts are stored per task, and an
 * article whose fetch failed is reported with its error among the others (the seed's "部分失败").
 */
@Injectable()
export class InteractionsService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(PublishingPlatformClient) private readonly platform: PublishingPlatformClient,
    @Inject(SERVICE_CONFIG) private readonly config: PublishConfig,
  ) {}

  async fetchAll(owner: JobOwner): Promise<ArticleInteractions[]> {
    const published = (await this.dataSource.query(
      `SELECT i.job_id AS task_id, JSON_UNQUOTE(JSON_EXTRACT(j.params, '$.articleId')) AS article_id, i.result
         FROM job_item i JOIN job j ON j.id = i.job_id
        WHERE i.tenant = ? AND i.user_id = ? AND i.status = 'success' AND j.kind = ?
        ORDER BY i.finished_at DESC LIMIT ?`,
      [owner.tenant, owner.userId, PUBLISH_JOBS.name, this.config.PUBLISH_INTERACTIONS_MAX_ARTICLES],
    )) as PublishedRow[];
    const articles = published.map((row) => {
      const result = (typeof row.result === 'string' ? JSON.parse(row.result) : row.result) as { url?: string; platformArticleId?: string } | null;
      return { taskId: row.task_id, articleId: row.article_id ?? '', url: result?.url ?? '', platformArticleId: result?.platformArticleId ?? '' };
    });
    const timeoutMs = this.config.PUBLISH_INTERACTIONS_TIMEOUT_MS;
    const report = await runBatch(articles, (article, { signal }) => this.platform.interactions(article.platformArticleId, { timeoutMs, signal }), {
      concurrency: this.config.PUBLISH_INTERACTIONS_CONCURRENCY,
      // The seed's per-article timeout, aborting the call (also bounds a platform that holds it open).
      policy: timeout(timeoutMs),
      // The caller gone (deadline, disconnect): the fetches it asked for stop.
      signal: currentRequestSignal(),
      name: 'publish-interactions',
    });
    const fetchedAt = new Date();
    const results = report.results.map((result, index): ArticleInteractions => {
      const article = articles[index] as (typeof articles)[number];
      const base = { taskId: article.taskId, articleId: article.articleId, resultUrl: article.url, fetchedAt: fetchedAt.toISOString() };
      if (result.ok) return { ...base, ...result.value, success: true, error: '' };
      const error = result.error instanceof Error ? result.error.message : String(result.error);
      return { ...base, likes: 0, comments: 0, shares: 0, success: false, error };
    });
    const fetched = results.filter((result) => result.success);
    if (fetched.length > 0) {
      await this.dataSource.query(
        `INSERT INTO publish_interactions (task_id, tenant, user_id, platform_article_id, likes, comments, shares, fetched_at)
         VALUES ${fetched.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON DUPLICATE KEY UPDATE likes = VALUES(likes), comments = VALUES(comments), shares = VALUES(shares), fetched_at = VALUES(fetched_at)`,
        fetched.flatMap((result) => {
          const article = articles.find((a) => a.taskId === result.taskId);
          return [result.taskId, owner.tenant, owner.userId, article?.platformArticleId ?? '', result.likes, result.comments, result.shares, fetchedAt];
        }),
      );
    }
    return results;
  }
}
