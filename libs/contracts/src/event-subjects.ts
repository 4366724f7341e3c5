import type { TokenChanged, TokenCreated, TokenExhausted, TokenRetired } from './generated/events/v1/events';

/**
 * Every domain event: its NATS subject and payload type (payloads are declared in
 * proto/events/v1/events.proto and travel as JSON). Publishers and subscribers are typed by this
 * map, so a subject and its payload cannot drift apart.
 */
export interface DomainEvents {
  'tokens.token.created': TokenCreated;
  'tokens.token.changed': TokenChanged;
  'tokens.token.retired': TokenRetired;
  'tokens.token.exhausted': TokenExhausted;
}

export type EventSubject = keyof DomainEvents;

/** The JetStream stream of each subject prefix: events survive a subscriber's restart. */
export const EVENT_STREAMS = [{ name: 'TOKENS_EVENTS', subjects: ['tokens.>'] }] as const;
