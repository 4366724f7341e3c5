import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { FaultInjector } from '../faults/fault-injector';
import { hash32, seededRandom } from '../faults/prng';

const WORDS = ['market', 'growth', 'signal', 'steady', 'investors', 'quarter', 'momentum', 'value', 'risk', 'outlook', 'strong', 'volume', 'trend', 'careful', 'opportunity', 'sector'];

const chatRequest = z.object({
  model: z.string().min(1).max(200),
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant', 'tool']), content: z.string().max(200_000) })).min(1).max(200),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().min(1).max(8_192).optional(),
}).passthrough();

/** Deterministic "completion": the same prompt always gives the same text. */
export function completionFor(prompt: string, maxTokens: number): string {
  const random = seededRandom(hash32(prompt));
  const count = Math.min(maxTokens, 12 + Math.floor(random() * 24));
  return Array.from({ length: count }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
}

const countTokens = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** OpenAI-compatible `POST /v1/chat/completions`, plain JSON or SSE (`stream: true`). */
export function registerChatRoutes(app: FastifyInstance, faults: FaultInjector): void {
  app.post(
    '/v1/chat/completions',
    faults.wrap('chat.completions', async (request, reply) => {
      const parsed = chatRequest.safeParse(request.body);
      if (!parsed.success) {
        return reply.code(400).send({ error: { message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), type: 'invalid_request_error' } });
      }
      const { model, messages, stream, max_tokens: maxTokens = 256 } = parsed.data;
      const prompt = messages.map((m) => `${m.role}:${m.content}`).join('\n');
      const text = completionFor(prompt, maxTokens);
      const id = `chatcmpl-${hash32(prompt).toString(16)}`;
      const created = Math.floor(Date.now() / 1_000);
      const usage = { prompt_tokens: countTokens(prompt), completion_tokens: countTokens(text), total_tokens: countTokens(prompt) + countTokens(text) };
      if (!stream) {
        return reply.send({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage,
        });
      }
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const chunk = (delta: Record<string, string>, finish: string | null) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      reply.raw.write(chunk({ role: 'assistant' }, null));
      for (const [i, word] of text.split(' ').entries()) reply.raw.write(chunk({ content: i === 0 ? word : ` ${word}` }, null));
      reply.raw.write(chunk({}, 'stop'));
      reply.raw.write('data: [DONE]\n\n');
      reply.raw.end();
      return reply;
    }),
  );
}
