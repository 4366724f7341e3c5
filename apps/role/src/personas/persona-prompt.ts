import type { ChatMessage } from '../upstream/chat-completions.client';
import type { PersonaSources } from './persona-sources.repository';

/**
 * The chat messages that ask for a persona: who it is (base_info), how it talks (talk_style),
 * what it knows (knowledge) and what it sells (product), under the caller's strategy.
 * `sources.baseInfo` must be present (a task without it has nothing to build on).
 */
export function personaPrompt(sources: PersonaSources & { baseInfo: NonNullable<PersonaSources['baseInfo']> }, strategyId: string): ChatMessage[] {
  const lines = [
    `Name: ${sources.baseInfo.name}`,
    `Background: ${sources.baseInfo.description}`,
    `Talking style: ${sources.talkStyle ?? 'not given; choose one that suits the background'}`,
    `Strategy: ${strategyId}`,
    'Knowledge:',
    ...(sources.knowledge.length > 0 ? sources.knowledge.map((k) => `- ${k}`) : ['- none given']),
    'Products:',
    ...(sources.products.length > 0 ? sources.products.map((p) => `- ${p.name}: ${p.description}`) : ['- none']),
  ];
  return [
    {
      role: 'system',
      content:
        'You write personas for financial content creators. Answer with the persona only: who they are, how they talk, what they post about, and what they never say.',
    },
    { role: 'user', content: `Create the persona from this profile.\n${lines.join('\n')}` },
  ];
}
