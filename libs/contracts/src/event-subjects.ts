import type { JobChanges, JobWork } from './generated/common/v1/common';
import type { SellerConfigChanged, StockSyncRequested, TokenChanged, TokenCreated, TokenExhausted, TokenRetired } from './generated/events/v1/events';

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
  /** Work items of one sync work queue (`SYNC_WORK_QUEUE`); see klineSyncWorkSubject. */
  [subject: `klinesync.work.${string}.stock`]: StockSyncRequested;
} & {
  /** Work items of a durable-job kind (libs/platform/src/jobs): `jobwork.<service>.<queue>.<kind>`. */
  [subject: `jobwork.${string}`]: JobWork;
  /** Committed changes of a kind's jobs, one event per commit: `jobevents.<service>.<queue>.<kind>`. */
  [subject: `jobevents.${string}`]: JobChanges;
};

export type EventSubject = keyof DomainEvents;

/**
 * The subject of a kline-sync work queue. Deployments sharing one NATS (or parallel test runs)
 * use different queue names, so one deployment's workers never take another's stocks.
 */
export function klineSyncWorkSubject(queue: string): `klinesync.work.${string}.stock` {
  return `klinesync.work.${queue}.stock`;
}

/** The JetStream stream of each subject prefix: events survive a subscriber's restart. */
export const EVENT_STREAMS = [
  { name: 'TOKENS_EVENTS', subjects: ['tokens.>'], retention: 'limits' },
  { name: 'OFFLINE_EVENTS', subjects: ['offline.>'], retention: 'limits' },
] as const;

/**
 * Work queues: each message is delivered to one consumer of the group and removed once acked,
 * so replicas share the work and a crashed replica's unacked messages go to another.
 */
export const WORK_STREAMS = [{ name: 'KLINE_SYNC_WORK', subjects: ['klinesync.work.>'], retention: 'workqueue' }] as const;
