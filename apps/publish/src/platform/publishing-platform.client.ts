import { PermanentError, sleep } from '@batchgate/concurrency';
import { UpstreamClient, upstreamResponseOf } from '@batchgate/platform/upstream';

/** An article as the platform shows it. */
export interface PlatformArticle {
  articleId: string;
  url: string;
}

export interface Interactions {
  likes: number;
  comments: number;
  shares: number;
}

interface PlatformAnswer {
  success?: boolean;
  articleId?: string;
  url?: string;
  code?: string;
  message?: string;
}

/**
 * The platform refused the article (seed 003's "发布失败" message): publishing it again will not
 * help, so the task fails with the platform's own message.
 */
export class PublishRefused extends Error {
  constructor(readonly platformMessage: string) {
    super(platformMessage);
    this.name = 'PublishRefused';
  }
}

/** The article page did not answer within the verification time (seed 003's 15 s check). */
export class VerificationTimedOut extends Error {
  constructor(readonly url: string, readonly timeoutMs: number) {
    super(`the article page ${url} did not answer within ${timeoutMs / 1000} s after publishing`);
    this.name = 'VerificationTimedOut';
  }
}

/**
 * The publishing platform (seed 003's Zhihu; upstream-sim locally) on the platform's outside-API
 * adapter: one connection pool, a per-call timeout that aborts the request, the platform's
 * circuit breaker and `Retry-After`, RED metrics. 5xx, timeouts and network errors are thrown as
 * the engine's transient errors (the task runs again); a refusal as {@link PublishRefused}.
 */
export class PublishingPlatformClient {
  constructor(readonly upstream: UpstreamClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.upstream.close();
  }

  /** Publishes under `idempotencyKey`: the same key again answers the same article, never a second one. */
  async publish(article: { title: string; content: string }, idempotencyKey: string, signal: AbortSignal): Promise<PlatformArticle> {
    try {
      const { body } = await this.upstream.request<PlatformAnswer>({
        operation: 'publish',
        method: 'POST',
        path: '/publishing/articles',
        json: { title: article.title, content: article.content },
        idempotencyKey,
        signal,
      });
      return articleOf(body);
    } catch (error) {
      const refusal = upstreamResponseOf(error);
      if (error instanceof PermanentError && refusal && refusal.status >= 400 && refusal.status < 500) {
        const body = refusal.body as PlatformAnswer | undefined;
        throw new PublishRefused(body?.message ?? `the platform refused the article (HTTP ${refusal.status})`);
      }
      throw error;
    }
  }

  /** The article published under `idempotencyKey`, if any: asked before repeating a publish whose answer was lost. */
  async findByKey(idempotencyKey: string, signal: AbortSignal): Promise<PlatformArticle | undefined> {
    try {
      const { body } = await this.upstream.request<PlatformAnswer>({
        operation: 'lookup',
        path: '/publishing/articles',
        query: { idempotencyKey },
        signal,
      });
      return articleOf(body);
    } catch (error) {
      if (upstreamResponseOf(error)?.status === 404) return undefined;
      throw error;
    }
  }

  /** Like / comment / share counts of a published article (seed 002). */
  async interactions(platformArticleId: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Interactions> {
    const { body } = await this.upstream.request<Partial<Interactions> | undefined>({
      operation: 'interactions',
      path: `/publishing/articles/${encodeURIComponent(platformArticleId)}/interactions`,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    const count = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined);
    const [likes, comments, shares] = [count(body?.likes), count(body?.comments), count(body?.shares)];
    if (likes === undefined || comments === undefined || shares === undefined) throw new Error('the platform answered without interaction counts');
    return { likes, comments, shares };
  }

  /**
   * Waits until the article page answers at its URL (seed 003: "等待页面跳转到文章URL"), asking
   * every `pollMs`; {@link VerificationTimedOut} after `timeoutMs`. The page is asked for by its
   * path on the platform's base URL (the URL's host is how readers reach it, not necessarily this
   * service).
   */
  async waitUntilVisible(url: string, options: { timeoutMs: number; pollMs: number; signal: AbortSignal }): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    const path = new URL(url).pathname;
    for (;;) {
      try {
        await this.upstream.request({ operation: 'page', path, signal: options.signal, timeoutMs: Math.max(100, Math.min(5_000, deadline - Date.now())) });
        return;
      } catch (error) {
        // 404: not there yet. Anything else (5xx, timeout) is asked again as well until the deadline.
        if (options.signal.aborted) throw error;
        if (Date.now() + options.pollMs > deadline) throw new VerificationTimedOut(url, options.timeoutMs);
      }
      await sleep(options.pollMs, { signal: options.signal });
    }
  }
}

function articleOf(body: PlatformAnswer | undefined): PlatformArticle {
  if (!body?.articleId || !body.url) throw new Error('the platform answered without an article id or URL');
  return { articleId: body.articleId, url: body.url };
}
