import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FaultInjector, SimAnswer } from '../faults/fault-injector';
import { completionFor, countTokens, promptOf } from './completion';

export const chatSettingsSchema = z
  .object({
    /** When non-empty, `Authorization: Bearer <key>` must name one of these keys (else 401). */
    apiKeys: z.array(z.string().min(1).max(512)).max(1_000).optional(),
    /** Pause between streamed chunks, so a stream takes time and can be abandoned midway. */
    streamChunkDelayMs: z.number().int().min(0).max(10_000).optional(),
  })
  .strict();

export type ChatSettings = z.output<typeof chatSettingsSchema>;

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const chatRequest = z
  .object({
    model: z.string().min(1).max(200),
    messages: z
      .array(
        z
          .object({
            role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
            content: z
              .union([z.string().max(500_000), z.array(contentPart).max(100), z.null()])
              .optional(),
          })
          .passthrough(),
      )
      .min(1)
      .max(500),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullish(),
    max_tokens: z.number().int().min(1).max(128_000).nullish(),
    max_completion_tokens: z.number().int().min(1).max(128_000).nullish(),
    response_format: z
      .object({ type: z.enum(['text', 'json_object', 'json_schema']) })
      .passthrough()
      .optional(),
  })
  .passthrough();

/** OpenAI's error body. */
export function openAiError(status: number, message: string, code: string | null = null): unknown {
  const type =
    status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return {
    error: {
      message,
      type,
      param: null,
      code: code ?? (status === 429 ? 'rate_limit_exceeded' : null),
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An OpenAI-compatible chat-completions API (`POST /v1/chat/completions`): deterministic text from
 * the prompt, token usage, and `stream: true` as server-sent events ending in `data: [DONE]`.
 */
export class ChatApi {
  private settingsValue: Required<ChatSettings> = { apiKeys: [], streamChunkDelayMs: 0 };

  configure(settings: ChatSettings): void {
    if (settings.apiKeys) this.settingsValue.apiKeys = settings.apiKeys;
    if (settings.streamChunkDelayMs !== undefined)
      this.settingsValue.streamChunkDelayMs = settings.streamChunkDelayMs;
  }

  settings(): ChatSettings {
    return { ...this.settingsValue, apiKeys: [...this.settingsValue.apiKeys] };
  }

  reset(): void {
    this.settingsValue = { apiKeys: [], streamChunkDelayMs: 0 };
  }

  register(app: FastifyInstance, faults: FaultInjector): void {
    app.post(
      '/v1/chat/completions',
      faults.wrap(
        'chat.completions',
        (request): SimAnswer => {
          const { apiKeys, streamChunkDelayMs } = this.settingsValue;
          if (apiKeys.length > 0) {
            const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
            if (!presented || !apiKeys.includes(presented)) {
              return {
                status: 401,
                body: openAiError(401, 'Incorrect API key provided.', 'invalid_api_key'),
              };
            }
          }
          const parsed = chatRequest.safeParse(request.body);
          if (!parsed.success) {
            const message = parsed.error.issues
              .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
              .join('; ');
            return { status: 400, body: openAiError(400, message) };
          }
          const body = parsed.data;
          const prompt = promptOf(body.messages);
          const json = body.response_format !== undefined && body.response_format.type !== 'text';
          const completion = completionFor(
            prompt,
            body.max_completion_tokens ?? body.max_tokens ?? 4_096,
            json,
          );
          const id = `chatcmpl-${createHash('sha1').update(prompt).digest('hex').slice(0, 24)}`;
          const created = Math.floor(Date.now() / 1_000);
          const promptTokens = countTokens(prompt) + 3 * body.messages.length;
          const completionTokens = countTokens(completion.content);
          const usage = {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
          };
          const base = { id, created, model: body.model, system_fingerprint: 'fp_upstream_sim' };
          if (!body.stream) {
            return {
              status: 200,
              body: {
                ...base,
                object: 'chat.completion',
                choices: [
                  {
                    index: 0,
                    message: { role: 'assistant', content: completion.content, refusal: null },
                    logprobs: null,
                    finish_reason: completion.finishReason,
                  },
                ],
                usage,
              },
            };
          }
          const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
            `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
          const delta = (d: Record<string, string>, finish: string | null = null) => [
            { index: 0, delta: d, logprobs: null, finish_reason: finish },
          ];
          const events = [
            chunk(delta({ role: 'assistant', content: '' })),
            ...completion.pieces.map((piece) => chunk(delta({ content: piece }))),
            chunk(delta({}, completion.finishReason)),
            ...(body.stream_options?.include_usage ? [chunk([], { usage })] : []),
            'data: [DONE]\n\n',
          ];
          return {
            status: 200,
            headers: {
              'content-type': 'text/event-stream; charset=utf-8',
              'cache-control': 'no-cache',
              connection: 'keep-alive',
            },
            stream: async (res: ServerResponse) => {
              if (streamChunkDelayMs === 0) {
                res.end(events.join(''));
                return;
              }
              for (const event of events) {
                if (res.destroyed) return;
                res.write(event);
                await sleep(streamChunkDelayMs);
              }
              res.end();
            },
          };
        },
        { errorBody: openAiError },
      ),
    );
  }
}
