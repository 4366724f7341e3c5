import { Inject, Injectable } from '@nestjs/common';
import { Observable } from 'rxjs';
import { classifyError, runBatch, timeout } from '@batchgate/concurrency';
import type { BatchGeneratePostsEvent, BatchGeneratePostsRequest, PostRequest } from '@batchgate/contracts/role/v1/role';
import { callerTenant, DomainError } from '@batchgate/platform/errors';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { RoleConfig } from '../config/role.config';
import { RolesRepository } from '../personas/roles.repository';
import { roleErrors } from '../role.errors';
import { RoleMetrics } from '../role.metrics';
import { ChatCompletionsClient } from '../upstream/chat-completions.client';
import { postPrompt } from './post-prompt';

/** Seed 002's bound on one batch request (the gateway refuses more too). */
const MAX_POSTS_PER_BATCH = 50;
const MAX_TEXT = 500;

interface GeneratedText {
  content: string;
  completionTokens: number;
}

/**
 * Seed 002's batch post generation: the posts run through chat completions with bounded
 * concurrency and a timeout per post (the batch runner), and each one is sent as soon as it
 * finished; a failed post is an event with its error, not the end of the stream. Unsubscribing
 * (the caller cancelled the rpc: its HTTP client went away) aborts the posts still running and
 * starts no more.
 */
@Injectable()
export class PostGenerationService {
  constructor(
    @Inject(ChatCompletionsClient) private readonly chat: ChatCompletionsClient,
    @Inject(RolesRepository) private readonly roles: RolesRepository,
    @Inject(RoleMetrics) private readonly metrics: RoleMetrics,
    @Inject(SERVICE_CONFIG) private readonly config: RoleConfig,
  ) {}

  generate(request: BatchGeneratePostsRequest): Observable<BatchGeneratePostsEvent> {
    const tenant = callerTenant(request.tenant);
    validate(request.posts);
    return new Observable<BatchGeneratePostsEvent>((subscriber) => {
      const stop = new AbortController();
      const startedAt = performance.now();
      void (async () => {
        let succeeded = 0;
        let failed = 0;
        const batch = runBatch(request.posts, (post, { signal }) => this.generateOne(tenant, post, signal), {
          concurrency: this.config.POST_CONCURRENCY,
          policy: timeout(this.config.POST_TIMEOUT_MS),
          signal: stop.signal,
          metrics: this.metrics.concurrency,
          name: 'post-generation',
        });
        for await (const result of batch) {
          if (stop.signal.aborted) break;
          if (result.ok) {
            succeeded++;
            this.metrics.posts.inc({ outcome: 'success' });
            subscriber.next({
              post: { index: result.index, success: true, content: result.value.content, error: '', errorCode: '', durationMs: Math.round(result.durationMs), completionTokens: result.value.completionTokens },
            });
          } else {
            failed++;
            this.metrics.posts.inc({ outcome: 'failed' });
            subscriber.next({
              post: { index: result.index, success: false, content: '', ...errorOf(result.error), durationMs: Math.round(result.durationMs), completionTokens: 0 },
            });
          }
        }
        if (stop.signal.aborted) {
          this.metrics.posts.inc({ outcome: 'cancelled' }, request.posts.length - succeeded - failed);
          return;
        }
        subscriber.next({ summary: { total: request.posts.length, succeeded, failed, durationMs: Math.round(performance.now() - startedAt) } });
        subscriber.complete();
      })().catch((error: unknown) => subscriber.error(error));
      return () => stop.abort();
    });
  }

  private async generateOne(tenant: string, post: PostRequest, signal: AbortSignal): Promise<GeneratedText> {
    const role = await this.roles.find(tenant, post.roleId);
    if (!role) throw roleErrors.roleNotFound(post.roleId);
    const completion = await this.chat.complete('post', postPrompt(role.persona, post.topic, post.stock), this.config.POST_MAX_TOKENS, { signal });
    return { content: completion.content, completionTokens: completion.completionTokens };
  }
}

function validate(posts: readonly PostRequest[]): void {
  if (posts.length < 1 || posts.length > MAX_POSTS_PER_BATCH)
    throw roleErrors.invalidPosts('posts', `posts must hold 1-${MAX_POSTS_PER_BATCH} post requests`);
  for (const [i, post] of posts.entries()) {
    if (!/^[0-9a-f-]{36}$/i.test(post.roleId)) throw roleErrors.invalidPosts(`posts[${i}].role_id`, 'role_id must be a persona id (UUID)');
    for (const field of ['topic', 'stock'] as const) {
      if (post[field].length < 1 || post[field].length > MAX_TEXT)
        throw roleErrors.invalidPosts(`posts[${i}].${field}`, `${field} must be 1-${MAX_TEXT} characters`);
    }
  }
}

function errorOf(error: unknown): { error: string; errorCode: string } {
  if (error instanceof DomainError) return { error: error.message, errorCode: error.code };
  const kind = classifyError(error, Date.now()).kind;
  return { error: error instanceof Error ? error.message : String(error), errorCode: `POST.${kind.toUpperCase().replace(/-/g, '_')}` };
}
