import type { ChatMessage } from '../upstream/chat-completions.client';

/** The chat messages that ask a persona for one post about a stock. */
export function postPrompt(persona: string, topic: string, stock: string): ChatMessage[] {
  return [
    { role: 'system', content: `You are this persona and write as them.\n${persona}` },
    { role: 'user', content: `Write one short social-media post about ${stock}. Topic: ${topic}. No investment promises.` },
  ];
}
