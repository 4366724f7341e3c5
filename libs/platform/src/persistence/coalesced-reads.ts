import DataLoader from 'dataloader';

/** Keys one batch holds at most: its statement's size, and so how many shapes of it each connection prepares. */
export const MAX_COALESCED_READS = 64;

/**
 * Reads requested in the same event-loop turn, gathered into one batch that `readBatch` answers
 * (one value or Error per key, in order), through DataLoader without its cache. At 50 calls in
 * flight a service got one statement per read, each a socket write and a wake-up of MariaDB; a
 * batch of them costs one.
 *
 * Why this stays correct (read-your-writes): a batch's statement is sent only after every read
 * that joined it was requested (DataLoader dispatches a batch once, on the scheduled callback; a
 * read asked for after that starts a new batch), so each read sees every write committed before it
 * was asked. Nothing joins a statement already sent and nothing is kept across batches
 * (`cache: false`). A statement's error fails the reads of its batch only; `readBatch` may answer
 * an Error for one key to fail that read alone.
 *
 * The turn ends at `setImmediate`, not DataLoader's default (after the current microtasks): the
 * calls one socket read brings each pass through several awaits before reading, and reach it in
 * the same turn but not in the same microtask drain (bench/gateway/README.md, section 27).
 */
export function coalescedReads<K, V>(
  readBatch: (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>,
  maxBatch = MAX_COALESCED_READS,
): DataLoader<K, V> {
  return new DataLoader<K, V>(readBatch, { cache: false, maxBatchSize: maxBatch, batchScheduleFn: scheduleBatch });
}

const scheduleBatch = (dispatch: () => void): void => {
  setImmediate(dispatch);
};
