import type { JobChanges, JobWork } from './generated/common/v1/common';
import type { SellerConfigChanged, TokenChanged, TokenCreated, TokenExhausted, TokenRetired } from './generated/events/v1/events';

/**
 * Every domain event: its NATS subject and payload type (payloads are declared in
 * proto/events/v1/events.proto and travel as JSON). Publishers and subscribers are typed by this
 * map, so a subject and its payload cannot drift apart.
 */
export type DomainEvents = {
  'tokens.token.created': TokenCreated;
  'tokens.token.changed': TokenChanged;
  'tokens.token.retired': TokenRetired;
  'tokens.token.exhausted': TokenExhausted;
  'offline.seller.config_changed': SellerConfigChanged;
} & {
  /** Work items of a durable-job kind (libs/platform/src/jobs): `jobwork.<service>.<queue>.<kind>`. */
  [subject: `jobwork.${string}`]: JobWork;
  /** Committed changes of a kind's jobs, one event per commit: `jobevents.<service>.<queue>.<kind>`. */
  [subject: `jobevents.${string}`]: JobChanges;
};

export type EventSubject = keyof DomainEvents;

/** The JetStream stream of each subject prefix: events survive a subscriber's restart. */
export const EVENT_STREAMS = [
  { name: 'TOKENS_EVENTS', subjects: ['tokens.>'], retention: 'limits' },
  { name: 'OFFLINE_EVENTS', subjects: ['offline.>'], retention: 'limits' },
] as const;

