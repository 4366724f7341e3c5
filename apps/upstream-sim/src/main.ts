import { readFileSync } from 'node:fs';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { Readiness } from '@batchgate/platform/health';
import { createLogger } from '@batchgate/platform/logging';
import { createMetricsRegistry } from '@batchgate/platform/observability';
import { DEMO_SETTINGS, simSettingsSchema, type SimSettings } from './admin/sim-settings';
import { upstreamSimConfigSchema } from './config/upstream-sim.config';
import { createSimServer } from './sim-server';

async function main(): Promise<void> {
  const config = loadConfigOrExit(upstreamSimConfigSchema);
  const logger = createLogger({ service: 'upstream-sim', level: config.LOG_LEVEL });
  const fromFile = config.SIM_CONFIG_FILE ? simSettingsSchema.parse(JSON.parse(readFileSync(config.SIM_CONFIG_FILE, 'utf8'))) : {};
  const profile: SimSettings = config.SIM_PROFILE === 'demo' ? DEMO_SETTINGS : {};
  const settings: SimSettings = {
    ...profile,
    ...fromFile,
    routes: { ...profile.routes, ...fromFile.routes },
    market: { ...profile.market, ...fromFile.market, tokens: [...(profile.market?.tokens ?? []), ...(fromFile.market?.tokens ?? [])] },
  };
  const readiness = new Readiness();
  const publicUrl = `http://${config.SIM_HOST}:${config.SIM_PORT}`;
  const { app } = createSimServer({ settings, registry: createMetricsRegistry('upstream-sim'), readiness, publicUrl: () => publicUrl });
  await app.listen({ host: config.SIM_HOST, port: config.SIM_PORT });
  readiness.markStarted();
  logger.info({ http: publicUrl, profile: config.SIM_PROFILE }, 'upstream-sim started');

  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    readiness.markShuttingDown();
    app.close().then(
      () => logger.flush(() => process.exit(0)),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`upstream-sim failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
