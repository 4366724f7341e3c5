import 'reflect-metadata';
import type { Server } from 'node:http';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { gatewayConfigSchema } from './config/gateway.config';
import { createGatewayApp } from './gateway-app';

async function main(): Promise<void> {
  const config = loadConfigOrExit(gatewayConfigSchema);
  const { app, platform } = await createGatewayApp(config);
  await app.listen(config.HTTP_PORT, config.HTTP_HOST);
  platform.readiness.markStarted();
  platform.logger.info({ http: `${config.HTTP_HOST}:${config.HTTP_PORT}` }, 'gateway started');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    platform.logger.info({ signal }, 'shutting down');
    platform.readiness.markShuttingDown();
    await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DELAY_MS));
    // A connection whose client went away mid-request can stay open until its keep-alive timeout
    // (72 s): the drain is bounded, then what is left is closed.
    const drainLimit = setTimeout(() => {
      platform.logger.warn({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown: closing connections still open after the drain time');
      (app.getHttpServer() as Server).closeAllConnections();
    }, config.SHUTDOWN_TIMEOUT_MS);
    drainLimit.unref();
    await app.close(); // stops accepting, lets in-flight requests finish, closes gRPC channels
    clearTimeout(drainLimit);
    platform.logger.flush(() => process.exit(0));
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
