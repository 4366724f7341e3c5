import type { JobChanged } from '@batchgate/contracts/common/v1/common';
import { Observable } from 'rxjs';
import { isTerminalJobStatus, type JobStatus } from './job-states';
import type { JobOwner, JobSnapshot, JobStore } from './job-store';

/** How long a gap in the versions may last before the job is read again from the database. */
const GAP_WAIT_MS = 500;
/** A watcher re-reads the job this often anyway, in case NATS dropped a change (a reconnect). */
const RESYNC_MS = 5_000;

/**
 * The server-streaming watch of one job, for a service's `Watch…` rpc to return as is:
 *   watchPublishTask(ref) { return watchJob(this.jobs, ownerOf(ref), ref.taskId, toPublishTask); }
 * It emits the job as it is now (not found for another owner, as the rpc's error), then the job
 * after each committed change, in commit order and once each (by `version`), and completes after
 * the job ends. Changes arrive from the outbox-published change events (the store's change
 * subscription, entered before the first read so none falls in between); a gap is filled from
 * the database.
 * `toMessage` builds the rpc's message; it gets the change that produced the snapshot (its items),
 * and may be async (to read the item results, say).
 */
export function watchJob<P, I, R, M>(
  store: JobStore<P, I, R>,
  owner: JobOwner,
  id: string,
  toMessage: (job: JobSnapshot<P>, change: JobChanged | undefined) => M | Promise<M>,
): Observable<M> {
  return new Observable<M>((subscriber) => {
    let current: JobSnapshot<P> | undefined;
    let done = false;
    const early: JobChanged[] = [];
    const ahead = new Map<number, JobChanged>();
    let gapTimer: NodeJS.Timeout | undefined;
    let emitting: Promise<void> = Promise.resolve();

    const emit = (job: JobSnapshot<P>, change: JobChanged | undefined) => {
      const terminal = isTerminalJobStatus(job.status);
      if (terminal) done = true;
      emitting = emitting
        .then(async () => {
          if (subscriber.closed) return;
          subscriber.next(await toMessage(job, change));
          if (terminal) subscriber.complete();
        })
        .catch((error: unknown) => subscriber.error(error));
    };

    const drain = () => {
      while (current && !done) {
        const next = ahead.get(current.version + 1);
        if (!next) break;
        ahead.delete(next.version);
        current = applyChange(current, next);
        emit(current, next);
      }
      for (const version of ahead.keys())
        if (current && version <= current.version) ahead.delete(version);
      clearTimeout(gapTimer);
      if (ahead.size > 0 && !done) gapTimer = setTimeout(resync, GAP_WAIT_MS);
    };

    const onChange = (change: JobChanged) => {
      if (done) return;
      if (!current) {
        early.push(change);
        return;
      }
      if (change.version > current.version) ahead.set(change.version, change);
      drain();
    };

    const resync = () => {
      if (done || !current) return;
      store.find(owner, id).then(
        (job) => {
          if (done || !current) return;
          if (!job) {
            done = true;
            subscriber.complete();
            return;
          }
          if (job.version > current.version) {
            current = job;
            emit(job, undefined);
          }
          drain();
        },
        // The database is away: the next resync tries again.
        () => undefined,
      );
    };

    const unsubscribe = store.onChange((change) => {
      if (change.jobId === id) onChange(change);
    });
    const resyncTimer = setInterval(resync, RESYNC_MS);
    resyncTimer.unref();

    store.get(owner, id).then(
      (job) => {
        current = job;
        emit(job, undefined);
        for (const change of early.splice(0)) onChange(change);
      },
      (error: unknown) => subscriber.error(error),
    );

    return () => {
      done = true;
      clearTimeout(gapTimer);
      clearInterval(resyncTimer);
      unsubscribe();
    };
  });
}

/** The job after `change`, from the snapshot before it (params and times the event does not carry). */
function applyChange<P>(job: JobSnapshot<P>, change: JobChanged): JobSnapshot<P> {
  const at = new Date(change.occurredAt);
  const status = change.status as JobStatus;
  const progress = change.progress ?? {
    total: job.total,
    done: 0,
    succeeded: job.succeeded,
    failed: job.failed,
  };
  const done = progress.succeeded + progress.failed + change.cancelled;
  // A retry restarts the run (queued, or pending when held): what had succeeded before it is not this run's work.
  const reopened = (status === 'queued' || status === 'pending') && isTerminalJobStatus(job.status);
  const doneBeforeRun = reopened
    ? progress.succeeded
    : job.succeeded + job.failed + job.cancelled - job.doneThisRun;
  return {
    ...job,
    status,
    version: change.version,
    total: progress.total,
    succeeded: progress.succeeded,
    failed: progress.failed,
    cancelled: change.cancelled,
    doneThisRun: Math.max(0, done - doneBeforeRun),
    startedAt: reopened ? null : (job.startedAt ?? (status === 'running' ? at : null)),
    finishedAt: isTerminalJobStatus(status) ? at : null,
    updatedAt: at,
  };
}
