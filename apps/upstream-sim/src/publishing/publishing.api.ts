import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FaultInjector, SimAnswer } from '../faults/fault-injector';
import { seededRandom } from '../faults/prng';
import type { SimStats } from '../stats/sim-stats';
import { interactionsAt } from './interactions';

export const publishingSettingsSchema = z
  .object({
    /** The article page answers 404 until this long after publishing. */
    visibleAfterMs: z.number().int().min(0).max(600_000).optional(),
    /** A title containing one of these is refused with `failureMessage`. */
    failingTitles: z.array(z.string().min(1).max(200)).max(1_000).optional(),
    /** Fraction of publish calls refused with `failureMessage` (seeded draws; 1 = platform down). */
    failureRate: z.number().min(0).max(1).optional(),
    failureMessage: z.string().min(1).max(500).optional(),
    /** Article age runs this many times faster for interaction counts (60000: 1 ms = 1 minute). */
    interactionsSpeedup: z.number().min(1).max(1e9).optional(),
    seed: z.number().int().optional(),
  })
  .strict();

export type PublishingSettings = z.output<typeof publishingSettingsSchema>;

const DEFAULTS = {
  visibleAfterMs: 0,
  failingTitles: [] as string[],
  failureRate: 0,
  failureMessage: '发布失败：内容审核未通过 (content rejected by review)',
  interactionsSpeedup: 1,
  seed: 1,
};

const publishBody = z.object({
  title: z.string().min(1).max(500),
  content: z.string().min(1).max(500_000),
  idempotencyKey: z.string().min(1).max(200).optional(),
});

interface Article {
  articleId: string;
  idempotencyKey: string;
  title: string;
  /** sha256 of title + content: the same key with other content is a client bug (409). */
  fingerprint: string;
  publishedAt: number;
}

const fail = (status: number, code: string, message: string): SimAnswer => ({
  status,
  body: { success: false, code, message },
});

/**
 * The publishing platform of seed 003: publish with an idempotency key (the same key gives the
 * same article and counts as a repeat, never a second article), the article page appears at its
 * URL after a delay, refusals with the platform's error message, and interaction counts that grow
 * with the article's age.
 */
export class PublishingApi {
  private settingsValue = structuredClone(DEFAULTS);
  private random = seededRandom(DEFAULTS.seed);
  private readonly byKey = new Map<string, Article>();
  private readonly byId = new Map<string, Article>();

  constructor(
    private readonly stats: SimStats,
    private readonly now: () => number,
    private readonly publicUrl: string | undefined,
  ) {}

  configure(settings: PublishingSettings): void {
    for (const [key, value] of Object.entries(settings)) {
      if (value !== undefined) Object.assign(this.settingsValue, { [key]: value });
    }
    if (settings.seed !== undefined) this.random = seededRandom(settings.seed);
  }

  settings(): PublishingSettings {
    return structuredClone(this.settingsValue);
  }

  reset(): void {
    this.settingsValue = structuredClone(DEFAULTS);
    this.random = seededRandom(DEFAULTS.seed);
    this.byKey.clear();
    this.byId.clear();
  }

  register(app: FastifyInstance, faults: FaultInjector): void {
    const errorBody = (status: number, message: string) => ({
      success: false,
      code: `HTTP_${status}`,
      message,
    });
    app.post(
      '/publishing/articles',
      faults.wrap('publish.article', (request) => this.publish(request), { errorBody }),
    );
    // What a publisher asks before it repeats a publish whose answer it never got (a worker that
    // died mid-call): whether the platform has an article for its idempotency key.
    app.get(
      '/publishing/articles',
      faults.wrap('publish.lookup', (request) => this.lookup(request), { errorBody }),
    );
    app.get(
      '/publishing/articles/:articleId',
      faults.wrap('publish.status', (request) => this.status(request), { errorBody }),
    );
    app.get(
      '/publishing/articles/:articleId/interactions',
      faults.wrap('publish.interactions', (request) => this.interactions(request), { errorBody }),
    );
    app.get(
      '/p/:articleId',
      faults.wrap('publish.page', (request) => this.page(request), {
        errorBody: (status, message) =>
          `<html><body><h1>${status}</h1><p>${message}</p></body></html>`,
        errorContentType: 'text/html; charset=utf-8',
      }),
    );
  }

  private urlOf(request: FastifyRequest, article: Article): string {
    return `${this.publicUrl ?? `${request.protocol}://${request.host}`}/p/${article.articleId}`;
  }

  private view(request: FastifyRequest, article: Article) {
    const visibleAt = article.publishedAt + this.settingsValue.visibleAfterMs;
    return {
      articleId: article.articleId,
      url: this.urlOf(request, article),
      title: article.title,
      publishedAt: new Date(article.publishedAt).toISOString(),
      visible: this.now() >= visibleAt,
      visibleAt: new Date(visibleAt).toISOString(),
    };
  }

  private publish(request: FastifyRequest): SimAnswer {
    const parsed = publishBody.safeParse(request.body);
    if (!parsed.success) {
      return fail(
        400,
        'INVALID_REQUEST',
        parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
      );
    }
    const header = request.headers['idempotency-key'];
    const fromHeader = typeof header === 'string' && header.length > 0 ? header : undefined;
    if (fromHeader && parsed.data.idempotencyKey && fromHeader !== parsed.data.idempotencyKey) {
      return fail(400, 'INVALID_REQUEST', 'Idempotency-Key header and body idempotencyKey differ');
    }
    const key = fromHeader ?? parsed.data.idempotencyKey;
    if (!key || key.length > 200) {
      return fail(
        400,
        'IDEMPOTENCY_KEY_REQUIRED',
        'an Idempotency-Key header (or body idempotencyKey) of 1-200 characters is required',
      );
    }
    const { title, content } = parsed.data;
    const fingerprint = createHash('sha256')
      .update(title)
      .update('\0')
      .update(content)
      .digest('hex');
    const existing = this.byKey.get(key);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        return fail(
          409,
          'IDEMPOTENCY_KEY_REUSED',
          `idempotency key ${key} was used for another article`,
        );
      }
      this.stats.effect('publish.article', key, false);
      return {
        status: 200,
        body: { success: true, repeat: true, ...this.view(request, existing) },
      };
    }
    const settings = this.settingsValue;
    const refused =
      settings.failingTitles.some((t) => title.includes(t)) ||
      (settings.failureRate > 0 && this.random() < settings.failureRate);
    if (refused) return fail(422, 'PUBLISH_REJECTED', settings.failureMessage);
    const article: Article = {
      articleId: `a${(this.byId.size + 1).toString(36)}${fingerprint.slice(0, 8)}`,
      idempotencyKey: key,
      title,
      fingerprint,
      publishedAt: this.now(),
    };
    this.byKey.set(key, article);
    this.byId.set(article.articleId, article);
    this.stats.effect('publish.article', key, true);
    return { status: 201, body: { success: true, repeat: false, ...this.view(request, article) } };
  }

  private article(request: FastifyRequest): Article | undefined {
    return this.byId.get((request.params as { articleId: string }).articleId);
  }

  private status(request: FastifyRequest): SimAnswer {
    const article = this.article(request);
    if (!article) return fail(404, 'ARTICLE_NOT_FOUND', 'article does not exist');
    return { status: 200, body: { success: true, ...this.view(request, article) } };
  }

  private lookup(request: FastifyRequest): SimAnswer {
    const key = (request.query as { idempotencyKey?: unknown }).idempotencyKey;
    if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
      return fail(400, 'INVALID_REQUEST', 'idempotencyKey (1-200 characters) is required');
    }
    const article = this.byKey.get(key);
    if (!article) return fail(404, 'ARTICLE_NOT_FOUND', `no article for idempotency key ${key}`);
    return { status: 200, body: { success: true, ...this.view(request, article) } };
  }

  private interactions(request: FastifyRequest): SimAnswer {
    const article = this.article(request);
    if (!article) return fail(404, 'ARTICLE_NOT_FOUND', 'article does not exist');
    const ageMs = (this.now() - article.publishedAt) * this.settingsValue.interactionsSpeedup;
    return {
      status: 200,
      body: {
        success: true,
        articleId: article.articleId,
        ...interactionsAt(article.articleId, ageMs),
        at: new Date(this.now()).toISOString(),
      },
    };
  }

  private page(request: FastifyRequest): SimAnswer {
    const article = this.article(request);
    if (!article || this.now() < article.publishedAt + this.settingsValue.visibleAfterMs) {
      return {
        status: 404,
        contentType: 'text/html; charset=utf-8',
        body: '<html><body><h1>404</h1><p>你似乎来到了没有知识存在的荒原 (page not found)</p></body></html>',
      };
    }
    const title = escapeHtml(article.title);
    return {
      status: 200,
      contentType: 'text/html; charset=utf-8',
      body: `<html><head><title>${title}</title></head><body><article data-article-id="${article.articleId}"><h1>${title}</h1></article></body></html>`,
    };
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
