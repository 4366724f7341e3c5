import { connect, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { loadConfig } from '@batchgate/platform/config';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { startGrpcService, type RunningGrpcService } from '@batchgate/platform/nest';
import { createTestDatabase, freePort, type TestDatabase, testServiceCredentials } from '@batchgate/testing';
import { AppModule } from '../src/app.module';
import { tokenManagerConfigSchema } from '../src/config/token-manager.config';

export interface TokenManagerUnderTest {
  database: TestDatabase;
  service: RunningGrpcService;
  client: TokenManagerServiceClient;
  nats: NatsConnection;
  opsUrl: string;
  grpcUrl: string;
  close: () => Promise<void>;
}

/** token-manager in this process against the real MySQL (a fresh database) and NATS. */
export async function startTokenManager(): Promise<TokenManagerUnderTest> {
  const database = await createTestDatabase('tokens');
  const [grpcPort, opsPort] = [await freePort(), await freePort()];
  const config = loadConfig(tokenManagerConfigSchema, {
    ...database.env,
    GRPC_PORT: String(grpcPort),
    OPS_PORT: String(opsPort),
    LOG_LEVEL: 'silent',
    OUTBOX_POLL_MS: '50',
  });
  const service = await startGrpcService({
    name: 'token-manager',
    proto: 'tokens',
    serviceName: TOKEN_MANAGER_SERVICE_NAME,
    config,
    appModule: () => AppModule.register(config),
  });
  const { client, close: closeClient } = createGrpcClient<TokenManagerServiceClient>({
    proto: 'tokens',
    service: TOKEN_MANAGER_SERVICE_NAME,
    url: `127.0.0.1:${grpcPort}`,
    deadlineMs: 5_000,
    registry: new Registry(),
    credentials: testServiceCredentials,
  });
  const nats = await connect({ servers: config.NATS_URL });
  return {
    database,
    service,
    client,
    nats,
    opsUrl: `http://127.0.0.1:${opsPort}`,
    grpcUrl: `127.0.0.1:${grpcPort}`,
    close: async () => {
      closeClient();
      await nats.close();
      await service.shutdown();
      await database.drop();
    },
  };
}
