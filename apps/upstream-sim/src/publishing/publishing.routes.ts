import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FaultInjector } from '../faults/fault-injector';
import { hash32 } from '../faults/prng';
import type { SimStats } from '../stats/sim-stats';

export interface PublishingSettings {
  /** The article page answers 404 until this long after publishing. */
  visibleAfterMs: number;
  /** Titles containing one of these make the platform refuse with an error message. */
  failingTitles: string[];
}

interface Article {
  articleId: string;
  title: string;
  publishedAt: number;
}

export interface PublishingState {
  settings: PublishingSettings;
  /** idempotency key → article */
  articles: Map<string, Article>;
  byId: Map<string, Article>;
}

const publishBody = z.object({ title: z.string().min(1).max(500), content: z.string().min(1).max(200_000) }).strict();

/** Interaction counts grow with the article's age, deterministically. */
export function interactionsAt(articleId: string, ageMs: number) {
  const seed = hash32(articleId);
  const minutes = Math.max(0, ageMs) / 60_000;
  return {
    likes: Math.floor(minutes * (3 + (seed % 5)) + (seed % 7)),
    comments: Math.floor(minutes * (1 + (seed % 3)) / 2),
    shares: Math.floor(minutes * (1 + (seed % 2)) / 3),
  };
}

/**
 * The publishing platform of seed 003: publish with an idempotency key (the same key gives the
 * same article and counts as a repeat), the article page appears after a delay, a refusal with an
 * error message, and interaction counts per article.
 */
export function registerPublishingRoutes(app: FastifyInstance, state: PublishingState, faults: FaultInjector, stats: SimStats, publicUrl: () => string): void {
  app.post(
    '/publishing/articles',
    faults.wrap('publish.article', async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
        return reply.code(400).send({ success: false, message: 'Idempotency-Key header (1-200 characters) is required' });
      }
      const parsed = publishBody.safeParse(request.body);
      if (!parsed.success) return reply.code(400).send({ success: false, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      const existing = state.articles.get(key);
      if (existing) {
        stats.effect('publish.article', key, false);
        return reply.send({ success: true, repeat: true, articleId: existing.articleId, url: `${publicUrl()}/p/${existing.articleId}` });
      }
      if (state.settings.failingTitles.some((t) => parsed.data.title.includes(t))) {
        return reply.code(422).send({ success: false, message: '发布失败：内容审核未通过 (content rejected by review)' });
      }
      const article: Article = { articleId: hash32(key).toString(36) + state.byId.size.toString(36), title: parsed.data.title, publishedAt: Date.now() };
      state.articles.set(key, article);
      state.byId.set(article.articleId, article);
      stats.effect('publish.article', key, true);
      return reply.code(201).send({ success: true, repeat: false, articleId: article.articleId, url: `${publicUrl()}/p/${article.articleId}` });
    }),
  );

  app.get(
    '/p/:articleId',
    faults.wrap('publish.page', async (request, reply) => {
      const article = state.byId.get((request.params as { articleId: string }).articleId);
      if (!article || Date.now() - article.publishedAt < state.settings.visibleAfterMs) return reply.code(404).type('text/html').send('<h1>Not found</h1>');
      return reply.type('text/html').send(`<html><head><title>${escapeHtml(article.title)}</title></head><body><h1>${escapeHtml(article.title)}</h1></body></html>`);
    }),
  );

  app.get(
    '/publishing/articles/:articleId/interactions',
    faults.wrap('publish.interactions', async (request, reply) => {
      const article = state.byId.get((request.params as { articleId: string }).articleId);
      if (!article) return reply.code(404).send({ success: false, message: 'article does not exist' });
      return reply.send({ articleId: article.articleId, ...interactionsAt(article.articleId, Date.now() - article.publishedAt) });
    }),
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
