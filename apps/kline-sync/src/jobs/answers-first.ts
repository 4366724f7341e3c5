import { Injectable } from '@nestjs/common';

/** Background steps that run at once while a submission is being answered. */
const STEPS_WHILE_ANSWERING = 2;

/**
 * Puts this replica's answers to submissions before its background work. While a submission is
 * in flight, at most {@link STEPS_WHILE_ANSWERING} background steps (a job's release, a stock's
 * bar write) run at once and the others wait for one of them to end, or for the submissions to be
 * answered; with none in flight every step runs at once. A step waits without a connection or an
 * event-loop turn, so waiting costs nothing: a burst of submissions started hundreds of releases
 * and bar writes, and the submissions' own statements queued behind them for the database's
 * connections and for the event loop (bench/gateway/README.md, "submissions:").
 *
 * Hand-written: a fixed concurrency limit (libs/concurrency's) would bound the steps always, also
 * when nobody waits for an answer; here the bound applies only while somebody does.
 */
@Injectable()
export class AnswersFirst {
  private answering = 0;
  private running = 0;
  private waiting: Array<() => void> = [];

  /** Answers a submission: background steps hold back until it is done. */
  async answer<T>(work: () => Promise<T>): Promise<T> {
    this.answering++;
    try {
      return await work();
    } finally {
      this.answering--;
      if (this.answering === 0) for (const wake of this.waiting.splice(0)) wake();
    }
  }

  /** Runs a background step, after the wait described above. */
  async step<T>(work: () => Promise<T>): Promise<T> {
    while (this.answering > 0 && this.running >= STEPS_WHILE_ANSWERING) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
