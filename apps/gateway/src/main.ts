import 'reflect-metadata';
import type { Server } from 'node:http';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { stopOnSignals } from '@batchgate/platform/lifecycle';
import { installFastAsyncResourceBind } from '@batchgate/platform/runtime';
import { gatewayConfigSchema } from './config/gateway.config';
import { createGatewayApp } from './gateway-app';

async function main(): Promise<void> {
  installFastAsyncResourceBind();
  const config = loadConfigOrExit(gatewayConfigSchema);
  const { app, platform } = await createGatewayApp(config);
  await app.listen(config.HTTP_PORT, config.HTTP_HOST);
  platform.readiness.markStarted();
  platform.logger.info({ http: `${config.HTTP_HOST}:${config.HTTP_PORT}` }, 'gateway started');

  stopOnSignals({
    logger: platform.logger,
    readiness: { readiness: platform.readiness, delayMs: config.SHUTDOWN_DELAY_MS },
    stop: () => app.close(), // stops accepting, lets in-flight requests finish, closes gRPC channels
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    // A connection whose client went away mid-request can stay open until its keep-alive timeout
    // (72 s): the drain is bounded, then what is left is closed.
    onTimeout: () => (app.getHttpServer() as Server).closeAllConnections(),
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
