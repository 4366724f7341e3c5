/** A dependency the process needs before it can take work (MySQL, NATS, ...). */
export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency answers; rejects (or resolves false) when it does not. */
  check: () => Promise<boolean | void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'up' | 'down'>;
  started: boolean;
  shuttingDown: boolean;
  /** The process answering: whoever started it can tell it apart from another on the same port. */
  pid: number;
}

/**
 * Aggregates readiness: ready only once started, while every dependency answers within the
 * timeout and the process is not shutting down (so a load balancer stops sending work before we stop taking it).
 */
export class Readiness {
  private readonly checks: ReadinessCheck[] = [];
  private started = false;
  private shuttingDown = false;

  constructor(private readonly timeoutMs = 2_000) {}

  add(check: ReadinessCheck): this {
    this.checks.push(check);
    return this;
  }

  /** Called once the app serves traffic; before that the process is never ready. */
  markStarted(): void {
    this.started = true;
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async report(): Promise<ReadinessReport> {
    const results = await Promise.all(
      this.checks.map(async ({ name, check }) => [name, await this.probe(check)] as const),
    );
    const checks = Object.fromEntries(results);
    const ready = this.started && !this.shuttingDown && results.every(([, state]) => state === 'up');
    return { ready, checks, started: this.started, shuttingDown: this.shuttingDown, pid: process.pid };
  }

  private async probe(check: ReadinessCheck['check']): Promise<'up' | 'down'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.timeoutMs);
    });
    try {
      const result = await Promise.race([check(), timeout]);
      return result === false ? 'down' : 'up';
    } catch {
      return 'down';
    } finally {
      clearTimeout(timer);
    }
  }
}
