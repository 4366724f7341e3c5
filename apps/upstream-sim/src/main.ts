import { ConfigError, loadConfigOrExit } from '@batchgate/platform/config';
import { Readiness } from '@batchgate/platform/health';
import { stopOnSignals } from '@batchgate/platform/lifecycle';
import { createLogger } from '@batchgate/platform/logging';
import { createMetricsRegistry } from '@batchgate/platform/observability';
import { DEMO_SETTINGS, loadSettingsFile, type SimSettingsInput } from './config/sim-settings';
import { upstreamSimConfigSchema } from './config/upstream-sim.config';
import { createSimServer } from './sim-server';

async function main(): Promise<void> {
  const config = loadConfigOrExit(upstreamSimConfigSchema);
  let fromFile: SimSettingsInput | undefined;
  try {
    fromFile = config.SIM_CONFIG_FILE ? loadSettingsFile(config.SIM_CONFIG_FILE) : undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  const logger = createLogger({ service: 'upstream-sim', level: config.LOG_LEVEL });
  const readiness = new Readiness();
  const app = createSimServer({
    settings: [config.SIM_PROFILE === 'demo' ? DEMO_SETTINGS : {}, fromFile ?? {}],
    registry: createMetricsRegistry('upstream-sim'),
    readiness,
    logger,
    publicUrl: config.SIM_PUBLIC_URL,
  });
  await app.listen({ host: config.SIM_HOST, port: config.SIM_PORT });
  readiness.markStarted();
  logger.info(
    {
      http: `http://${config.SIM_HOST}:${config.SIM_PORT}`,
      profile: config.SIM_PROFILE,
      configFile: config.SIM_CONFIG_FILE || null,
    },
    'upstream-sim started',
  );

  stopOnSignals({
    logger,
    readiness: { readiness, delayMs: config.SHUTDOWN_DELAY_MS },
    stop: async () => {
      await app.close();
      logger.info('stopped');
    },
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `upstream-sim failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
