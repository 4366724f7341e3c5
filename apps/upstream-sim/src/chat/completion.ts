import { hash32, seededRandom } from '../faults/prng';

const VOCABULARY = [
  'market',
  'growth',
  'signal',
  'steady',
  'investors',
  'quarter',
  'momentum',
  'value',
  'risk',
  'outlook',
  'strong',
  'volume',
  'trend',
  'careful',
  'opportunity',
  'sector',
  'patient',
  'data',
  'story',
  'community',
  'insight',
  'balance',
  'long-term',
  'fresh',
  'clear',
  'practical',
];

export interface ChatMessageLike {
  role: string;
  content?: string | null | Array<{ type: string; text?: string }>;
}

/** The text the simulator "reads": every message as `role:content`, one per line. */
export function promptOf(messages: ChatMessageLike[]): string {
  return messages
    .map((m) => {
      const content =
        typeof m.content === 'string'
          ? m.content
          : Array.isArray(m.content)
            ? m.content.map((p) => p.text ?? '').join('')
            : '';
      return `${m.role}:${content}`;
    })
    .join('\n');
}

/** Approximate token count: one per CJK character, one per other whitespace-separated word. */
export function countTokens(text: string): number {
  return text.match(/[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+/g)?.length ?? 0;
}

export interface Completion {
  content: string;
  finishReason: 'stop' | 'length';
  /** The pieces a stream sends, in order; joined they are `content`. */
  pieces: string[];
}

/**
 * A deterministic "completion": the same prompt always gives the same text (12..40 words from a
 * small vocabulary mixed with the prompt's own long words), cut at `maxTokens` words. With
 * `json`, the text is wrapped as `{"title","content","tags"}`.
 */
export function completionFor(prompt: string, maxTokens: number, json = false): Completion {
  const random = seededRandom(hash32(prompt));
  const topics = [...new Set(prompt.toLowerCase().match(/[a-z][a-z-]{4,}/g) ?? [])].slice(-3);
  const pool = topics.length > 0 ? [...VOCABULARY, ...topics, ...topics] : VOCABULARY;
  const wanted = 12 + Math.floor(random() * 29);
  const count = Math.min(wanted, maxTokens);
  const words = Array.from(
    { length: count },
    () => pool[Math.floor(random() * pool.length)] ?? 'value',
  );
  const first = words[0] ?? 'value';
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  const text = `${words.join(' ')}.`;
  const finishReason = count < wanted ? 'length' : 'stop';
  if (json) {
    const content = JSON.stringify({
      title: words.slice(0, 5).join(' '),
      content: text,
      tags: topics,
    });
    return { content, finishReason, pieces: content.match(/.{1,16}/gs) ?? [content] };
  }
  return {
    content: text,
    finishReason,
    pieces: words.map((w, i) => (i === 0 ? w : ` ${w}`)).concat('.'),
  };
}
