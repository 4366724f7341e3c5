import type { Logger } from 'pino';
import type { Readiness } from '../health';

export interface SignalShutdown {
  logger: Logger;
  /** Stops accepting work, lets what is in flight finish, closes connections. */
  stop: () => Promise<void>;
  /** Longest `stop` may take. */
  timeoutMs: number;
  /**
   * What to do when `stop` overruns `timeoutMs` (e.g. close the connections still open and let
   * `stop` finish). Without it the process exits 1 at once.
   */
  onTimeout?: () => void;
  /**
   * Fails readiness first and waits `delayMs` before `stop`, so load balancers stop routing
   * before the port closes (for processes whose `stop` does not do this itself).
   */
  readiness?: { readiness: Readiness; delayMs: number };
}

/**
 * The one way every process of the stack (gateway, services, simulator) ends: the first SIGTERM
 * or SIGINT runs an ordered, bounded stop; the process exits 0 once it is done (logs flushed), 1
 * when it fails or overruns without an `onTimeout`. Later signals are ignored.
 */
export function stopOnSignals(shutdown: SignalShutdown): void {
  const { logger } = shutdown;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const overrun = setTimeout(() => {
      if (shutdown.onTimeout) {
        logger.warn({ timeoutMs: shutdown.timeoutMs }, 'shutdown: still draining after the timeout');
        shutdown.onTimeout();
        return;
      }
      logger.error({ timeoutMs: shutdown.timeoutMs }, 'shutdown timed out');
      logger.flush(() => process.exit(1));
    }, shutdown.timeoutMs);
    overrun.unref();
    void (async () => {
      if (shutdown.readiness) {
        shutdown.readiness.readiness.markShuttingDown();
        await new Promise((resolve) => setTimeout(resolve, shutdown.readiness?.delayMs));
      }
      await shutdown.stop();
    })().then(
      () => {
        clearTimeout(overrun);
        logger.flush(() => process.exit(0));
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
