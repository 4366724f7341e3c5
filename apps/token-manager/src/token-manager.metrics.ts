import { Inject, Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { ApiTokenEntity, ApiTokenStatus } from './tokens/api-token.entity';
import { usedToday } from './tokens/token.mapper';
import { QuotaCalendar } from './tokens/usage-day';

const STATUS_NAMES: Record<ApiTokenStatus, string> = {
  [ApiTokenStatus.Disabled]: 'disabled',
  [ApiTokenStatus.Active]: 'active',
  [ApiTokenStatus.Retired]: 'retired',
};

/**
 * Every metric token-manager declares, in one place (dashboards and alert rules read these names
 * and labels: deploy/grafana via tools/gen-dashboards.ts, deploy/prometheus/rules).
 *
 * Token usage as Prometheus sees it (SPEC §7 "token usage rate"): calls used today and the daily
 * limit per token, and how many tokens each provider has per status. Read from `api_token` when
 * scraped, so every replica reports the shared truth; tokens are labelled by id and name, never
 * by secret.
 */
@Injectable()
export class TokenManagerMetrics {
  constructor(
    @Inject(DataSource) dataSource: DataSource,
    @Inject(QuotaCalendar) calendar: QuotaCalendar,
    @Inject(Registry) registry: Registry,
  ) {
    let snapshot: Promise<ApiTokenEntity[]> | undefined;
    // The gauges are collected together in one scrape: one query serves them all. While MySQL is
    // down they are empty, and /metrics still answers (its other series matter most then).
    const rows = () => {
      snapshot ??= dataSource
        .getRepository(ApiTokenEntity)
        .find({ where: { deleted: 0 } })
        .catch(() => [])
        .finally(() => setImmediate(() => (snapshot = undefined)));
      return snapshot;
    };
    new Gauge({
      name: 'token_manager_token_daily_used',
      help: 'Calls a token has used on the current quota day',
      labelNames: ['provider', 'token_id', 'token_name'],
      registers: [registry],
      async collect() {
        this.reset();
        const day = calendar.today();
        for (const row of await rows()) {
          this.set({ provider: row.provider, token_id: row.id, token_name: row.name }, usedToday(row, day));
        }
      },
    });
    new Gauge({
      name: 'token_manager_token_daily_limit',
      help: 'Daily call limit of a token (0 = unlimited)',
      labelNames: ['provider', 'token_id', 'token_name'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await rows()) this.set({ provider: row.provider, token_id: row.id, token_name: row.name }, row.dailyLimit);
      },
    });
    new Gauge({
      name: 'token_manager_tokens',
      help: 'Tokens by provider and status (deleted ones not counted)',
      labelNames: ['provider', 'status'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await rows()) this.inc({ provider: row.provider, status: STATUS_NAMES[row.status] ?? String(row.status) });
      },
    });
  }
}
