import { classifyError, retry, type RetryPolicy } from '@batchgate/concurrency';
import type { UpstreamClient } from '@batchgate/platform/upstream';
import type { ChatPurpose, RoleMetrics } from '../role.metrics';

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

export interface ChatCompletion {
  content: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
}

export interface ChatCallOptions {
  /** Aborts the call (a cancelled task, a disconnected client, a post's timeout). */
  signal?: AbortSignal;
  /** Wait this long for the API during its outage before failing (durable work only). */
  waitWhileDownMs?: number;
  /** Ends that wait (a worker shutting down hands its task back) without aborting a call in flight. */
  stopWaiting?: AbortSignal;
}

export interface ChatSettings {
  model: string;
  apiKey: string;
  maxAttempts: number;
  retryBaseMs: number;
}

interface ChatAnswer {
  model?: string;
  choices?: Array<{ message?: { content?: string | null } }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/**
 * The OpenAI-compatible chat-completions API. Every call goes through the upstream client
 * (timeout, breaker, `503` + `Retry-After` pause) and a retry by error class: transient errors
 * and timeouts back off with jitter, 429 waits its `Retry-After`, 4xx are not retried.
 */
export class ChatCompletionsClient {
  private readonly retry: RetryPolicy;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly settings: ChatSettings,
    private readonly metrics: RoleMetrics,
  ) {
    this.retry = retry({
      maxAttempts: settings.maxAttempts,
      backoff: { initialDelayMs: settings.retryBaseMs, maxDelayMs: 30_000 },
      name: 'chat-completions',
    });
    this.headers = settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {};
  }

  async complete(purpose: ChatPurpose, messages: ChatMessage[], maxTokens: number, options: ChatCallOptions = {}): Promise<ChatCompletion> {
    const startedAt = performance.now();
    const observe = (outcome: string) => this.metrics.chatDuration.observe({ purpose, outcome }, (performance.now() - startedAt) / 1000);
    try {
      const { body } = await this.upstream.run(
        () =>
          this.retry.execute(
            ({ signal }) =>
              this.upstream.request<ChatAnswer>({
                operation: purpose,
                method: 'POST',
                path: '/v1/chat/completions',
                headers: this.headers,
                json: { model: this.settings.model, messages, max_tokens: maxTokens },
                signal,
              }),
            options.signal,
          ),
        { signal: options.signal, waitWhileDownMs: options.waitWhileDownMs, stopWaiting: options.stopWaiting },
      );
      const completion = {
        content: body.choices?.[0]?.message?.content ?? '',
        model: body.model ?? this.settings.model,
        promptTokens: body.usage?.prompt_tokens ?? 0,
        completionTokens: body.usage?.completion_tokens ?? 0,
      };
      this.metrics.chatTokens.inc({ purpose, type: 'prompt' }, completion.promptTokens);
      this.metrics.chatTokens.inc({ purpose, type: 'completion' }, completion.completionTokens);
      observe('success');
      return completion;
    } catch (error) {
      observe(classifyError(error, Date.now()).kind);
      throw error;
    }
  }
}
