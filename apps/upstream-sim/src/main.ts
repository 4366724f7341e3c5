import { ConfigError, loadConfigOrExit } from '@batchgate/platform/config';
import { Readiness } from '@batchgate/platform/health';
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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Readiness fails first, so a load balancer stops sending before the port closes.
    readiness.markShuttingDown();
    await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DELAY_MS));
    await app.close();
    logger.info('stopped');
    logger.flush(() => process.exit(0));
  };
  const onSignal = (signal: string) =>
    void stop(signal).catch((error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      logger.flush(() => process.exit(1));
    });
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `upstream-sim failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
