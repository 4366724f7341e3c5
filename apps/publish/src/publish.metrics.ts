import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';

/**
 * Every metric publish declares, in one place (dashboards and alert rules read these names and
 * labels). The job kit adds `jobs_items_total{kind="article"}`, `jobs_item_duration_seconds` and
 * `jobs_job_duration_seconds`; the platform client `upstream_requests_total{upstream="publishing"}`.
 */
@Injectable()
export class PublishMetrics {
  /** Articles submitted (single or in a batch), accepted or refused by the per-user rate limit. */
  readonly submissions: Counter<'outcome'>;
  /** Publish runs by outcome: published (verified), refused by the platform, unverified, or a transient error. */
  readonly publishes: Counter<'outcome'>;
  /** Publish call to verified article page. */
  readonly verifyDuration: Histogram<'outcome'>;
  /** Runs that found the article already on the platform (a redelivery after a lost answer) instead of publishing again. */
  readonly alreadyPublished: Counter;

  constructor(@Inject(Registry) registry: Registry) {
    const registers = [registry];
    this.submissions = new Counter({
      name: 'publish_submissions_total',
      help: 'Articles submitted for publishing, by outcome (accepted, rate_limited)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['accepted', 'rate_limited']) this.submissions.inc({ outcome }, 0);
    this.publishes = new Counter({
      name: 'publish_runs_total',
      help: 'Publish runs by outcome (published, refused, unverified, error)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['published', 'refused', 'unverified', 'error']) this.publishes.inc({ outcome }, 0);
    this.verifyDuration = new Histogram({
      name: 'publish_verify_duration_seconds',
      help: 'Time from the publish answer until the article page answered (or verification gave up), by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60],
      registers,
    });
    this.alreadyPublished = new Counter({
      name: 'publish_already_published_total',
      help: 'Runs that found their article already on the platform (published by an earlier run whose answer was lost)',
      registers,
    });
  }
}
