import { Inject, Injectable } from '@nestjs/common';
import { runBatch, timeout } from '@batchgate/concurrency';
import type { ExecuteTriggersResponse, TriggerConfig } from '@batchgate/contracts/klinesync/v1/klinesync';
import { callerTenant } from '@batchgate/platform/errors';
import { currentRequestSignal } from '@batchgate/platform/context';
import { klineSyncErrors } from '../kline-sync.errors';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { KlinesService } from '../klines/klines.service';
import { StockPuller } from '../sync/stock-puller';

/** Seed 002: at most 3 triggers evaluated at once, each within 30 s. */
export const TRIGGER_CONCURRENCY = 3;
export const TRIGGER_TIMEOUT_MS = 30_000;
export const MAX_TRIGGERS = 200;
/** The `name` label of the triggers' concurrency metrics. */
export const TRIGGER_BATCH_NAME = 'intraday-triggers';

/**
 * Intraday triggers: each config pulls its stock's newest bars (stored too, so later queries see
 * them) and fires when the close moved by at least `priceChangePercent` over the last `bars` bars.
 */
@Injectable()
export class TriggersService {
  private readonly perTrigger = timeout(TRIGGER_TIMEOUT_MS);

  constructor(
    @Inject(StockPuller) private readonly puller: StockPuller,
    @Inject(KlinesService) private readonly klines: KlinesService,
    @Inject(KlineSyncMetrics) private readonly metrics: KlineSyncMetrics,
  ) {}

  /** Pulls with the tenant's tokens and stores the fresh bars as the tenant's. */
  async execute(tenant: string, triggers: readonly TriggerConfig[]): Promise<ExecuteTriggersResponse> {
    callerTenant(tenant);
    if (triggers.length === 0 || triggers.length > MAX_TRIGGERS) {
      throw klineSyncErrors.invalidTriggers(`1-${MAX_TRIGGERS} trigger configs are required`);
    }
    const report = await runBatch(
      triggers,
      (trigger, { signal }) => this.perTrigger.execute(({ signal: callSignal }) => this.evaluate(tenant, trigger, callSignal), signal),
      // The caller's deadline or cancel stops the triggers not yet evaluated and aborts the running ones.
      {
        concurrency: TRIGGER_CONCURRENCY,
        name: TRIGGER_BATCH_NAME,
        signal: currentRequestSignal(),
        metrics: this.metrics.concurrency,
      },
    );
    return {
      results: report.results.map((result) =>
        result.ok
          ? { id: result.item.id, ...result.value, error: '' }
          : {
              id: result.item.id,
              fired: false,
              changePercent: 0,
              error: result.error instanceof Error ? result.error.message : String(result.error),
            },
      ),
    };
  }

  private async evaluate(tenant: string, trigger: TriggerConfig, signal: AbortSignal): Promise<{ fired: boolean; changePercent: number }> {
    const kType = trigger.kType || 1;
    const fresh = await this.puller.latest({ tenant, market: trigger.market, code: trigger.code, kType }, trigger.bars + 1, signal);
    await this.klines.upsert({ tenant, market: trigger.market, stockCode: trigger.code, kType }, fresh);
    const window = fresh.slice(-(trigger.bars + 1));
    const first = window[0];
    const last = window[window.length - 1];
    if (!first || !last || window.length < 2 || first.c === 0) return { fired: false, changePercent: 0 };
    const changePercent = ((last.c - first.c) / first.c) * 100;
    return { fired: Math.abs(changePercent) >= trigger.priceChangePercent, changePercent: Math.round(changePercent * 1e4) / 1e4 };
  }
}
