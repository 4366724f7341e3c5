import { once } from 'node:events';
import { loadPackageDefinition, Server, ServerCredentials, type GrpcObject, type sendUnaryData, type ServerUnaryCall, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { KLINE_SYNC_SERVICE_NAME, type KlineSyncServiceClient } from '@batchgate/contracts/klinesync/v1/klinesync';
import { Abandonment, currentRequestContext, REQUEST_ID_HEADER, runWithRequestContext } from '../context';
import { createGrpcClient, grpcTarget, loadBalancingChannelOptions, type WithRequestContext } from './grpc-client';
import { protoLoaderOptions, protoPathOf } from './proto-loader-options';
import { SERVICE_CREDENTIAL_HEADER, ServiceCredentials } from './service-credentials';

describe('gRPC client targets', () => {
  it('resolves a bare host:port through DNS (every address of the name) and keeps explicit schemes', () => {
    expect(grpcTarget('token-manager:50051')).toBe('dns:///token-manager:50051');
    expect(grpcTarget('127.0.0.1:50051')).toBe('dns:///127.0.0.1:50051');
    expect(grpcTarget('[::1]:50051')).toBe('dns:///[::1]:50051');
    expect(grpcTarget('dns:///token-manager.batchgate.svc:50051')).toBe('dns:///token-manager.batchgate.svc:50051');
    expect(grpcTarget('ipv4:127.0.0.1:1,127.0.0.1:2')).toBe('ipv4:127.0.0.1:1,127.0.0.1:2');
    expect(grpcTarget('unix:/run/tm.sock')).toBe('unix:/run/tm.sock');
  });

  it('asks grpc-js for the chosen load-balancing policy through the service config', () => {
    const config = JSON.parse(loadBalancingChannelOptions('round_robin')['grpc.service_config'] ?? '{}');
    expect(config).toEqual({ loadBalancingConfig: [{ round_robin: {} }] });
  });
});

describe("a gRPC call given its request's context (the gateway's clients, no AsyncLocalStorage)", () => {
  const SECRET = 'a-test-secret-that-is-at-least-32-chars';
  const server = new Server();
  /** What the server saw of each call, by the job id asked for. */
  const seen = new Map<string, { requestId: unknown; credential: unknown; cancelled: Promise<unknown> }>();
  let client: WithRequestContext<KlineSyncServiceClient>;
  let close: () => void;

  beforeAll(async () => {
    const root = loadPackageDefinition(loadSync(protoPathOf('klinesync'), protoLoaderOptions())) as GrpcObject;
    const KlineSync = ((root['klinesync'] as GrpcObject)['v1'] as GrpcObject)[KLINE_SYNC_SERVICE_NAME] as ServiceClientConstructor;
    server.addService(KlineSync.service, {
      getSyncJob: (call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) => {
        seen.set(call.request.id, {
          requestId: call.metadata.get(REQUEST_ID_HEADER)[0],
          credential: call.metadata.get(SERVICE_CREDENTIAL_HEADER)[0],
          cancelled: once(call, 'cancelled'),
        });
        // 'hold': answered only by the caller's cancel.
        if (call.request.id !== 'hold') callback(null, { id: call.request.id, status: 'success' });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    ({ client, close } = createGrpcClient<WithRequestContext<KlineSyncServiceClient>>({
      proto: 'klinesync',
      service: KLINE_SYNC_SERVICE_NAME,
      url: `127.0.0.1:${port}`,
      deadlineMs: 10_000,
      registry: new Registry(),
      credentials: new ServiceCredentials('gateway', SECRET),
    }));
  });

  afterAll(() => {
    close();
    server.forceShutdown();
  });

  it('carries its request id and the service credential, with no current context', async () => {
    expect(currentRequestContext()).toBeUndefined();
    const job = await lastValueFrom(client.getSyncJob({ id: 'job-1', userId: 'alice', tenant: 'acme' }, { requestId: 'req-given-1' }));
    expect(job).toMatchObject({ id: 'job-1', status: 'success' });
    expect(seen.get('job-1')).toMatchObject({ requestId: 'req-given-1', credential: expect.stringMatching(/^Bearer ./) });
  });

  it('takes the given context over the current one', async () => {
    await runWithRequestContext({ requestId: 'req-current' }, () =>
      lastValueFrom(client.getSyncJob({ id: 'job-2', userId: 'alice', tenant: 'acme' }, { requestId: 'req-given-2' })),
    );
    expect(seen.get('job-2')?.requestId).toBe('req-given-2');
  });

  it("is cancelled, at the server too, when the given context's caller gives up", async () => {
    const clientGone = new Abandonment();
    const answer = lastValueFrom(client.getSyncJob({ id: 'hold', userId: 'alice', tenant: 'acme' }, { requestId: 'req-gone', abandonment: clientGone }));
    const outcome = answer.then(
      () => 'answered',
      (error: { code?: string }) => error.code,
    );
    while (!seen.has('hold')) await new Promise((resolve) => setImmediate(resolve));
    clientGone.abandon();
    expect(await outcome).toBe('CALL.CANCELLED');
    await seen.get('hold')?.cancelled; // the server's call was cancelled (else this waits out the test's timeout)
  });
});
