import type { StreamDefinition } from '../messaging';

/**
 * One kind of durable job of one service: the types of its job parameters `P`, item payload `I`
 * and item result `R` (stored as JSON in the kit's `job` / `job_item` tables), and the names its
 * errors and subjects are built from. Declared once per kind, e.g.
 *   export const PUBLISH_JOBS = defineJobKind<PublishParams, Article, Published>({
 *     service: 'publish', name: 'article', errorPrefix: 'PUBLISH', label: 'Publish task' });
 */
export interface JobKind<P, I, R> {
  /** The service owning the jobs (its database holds them); lower-case letters, digits, `-`. */
  readonly service: string;
  /** The kind within the service; lower-case letters, digits, `-`. */
  readonly name: string;
  /** Prefix of the error codes: `${errorPrefix}.JOB_NOT_FOUND`, `.JOB_FINISHED`, `.NOTHING_TO_RETRY`, `.JOB_RUNNING`. */
  readonly errorPrefix: string;
  /** How error messages name a job: "Publish task 1f… does not exist". */
  readonly label: string;
  /** How error messages name its items (default "items"): kline-sync's "stocks". */
  readonly itemLabel?: string;
  /** Phantom fields carrying the types; never set. */
  readonly types?: { params: P; payload: I; result: R };
}

const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function defineJobKind<P, I, R>(kind: Omit<JobKind<P, I, R>, 'types'>): JobKind<P, I, R> {
  for (const [field, value] of [
    ['service', kind.service],
    ['name', kind.name],
  ] as const) {
    if (!NAME.test(value))
      throw new Error(
        `job kind ${field} "${value}" must be 1-40 lower-case letters, digits or dashes`,
      );
  }
  return kind;
}

/**
 * Subjects of one kind on one queue. `queue` separates deployments (and parallel test runs)
 * sharing one NATS, as kline-sync's SYNC_WORK_QUEUE does.
 */
export function jobSubjects(kind: JobKind<unknown, unknown, unknown>, queue: string) {
  const base = `${kind.service}.${queue}.${kind.name}`;
  return {
    /** The work queue's messages (JobWork). */
    work: `jobwork.${base}` as const,
    /** The kind's change events, one per commit (JobChanges): watchers and cancels listen here. */
    events: `jobevents.${base}` as const,
    /** The durable consumer every replica of the service shares. */
    durable: `jobs-${kind.service}-${queue}-${kind.name}`,
  };
}

/**
 * The JetStream streams of a service's jobs, to pass to MessagingModule.forService with its other
 * streams: a work queue (each item to one replica, kept until acked) and the change events.
 */
export function jobStreams(service: string): StreamDefinition[] {
  const suffix = service.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return [
    { name: `JOBS_WORK_${suffix}`, subjects: [`jobwork.${service}.>`], retention: 'workqueue' },
    { name: `JOBS_EVENTS_${suffix}`, subjects: [`jobevents.${service}.>`], retention: 'limits' },
  ];
}

/** The stream holding the work queue of `service` (consumers are created on it). */
export function jobWorkStream(service: string): string {
  const [work] = jobStreams(service);
  return (work as StreamDefinition).name;
}
