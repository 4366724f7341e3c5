import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcMethod, type MicroserviceOptions } from '@nestjs/microservices';
import { Registry } from 'prom-client';
import { lastValueFrom, type Observable } from 'rxjs';
import {
  PUBLISH_SERVICE_NAME,
  type PublishServiceClient,
  type PublishTask,
  type PublishTaskRef,
} from '@batchgate/contracts/publish/v1/publish';
import {
  createGrpcClient,
  createGrpcHealth,
  GrpcExceptionFilter,
  grpcServerOptions,
} from '@batchgate/platform/grpc';
import { watchJob, type JobOwner } from '@batchgate/platform/jobs';
import {
  createTestDatabase,
  freePort,
  testServiceCredentials,
  waitFor,
  type TestDatabase,
} from '@batchgate/testing';
import { deleteStreams, kitEnvironment, openKit, type KitProcess } from './job-kit.harness';

const TENANT = 'acme';

/**
 * watchJob as a real server-streaming rpc: a tiny Nest gRPC app serves publish.v1's
 * WatchPublishTask from the kit's store, and a gRPC client reads the stream.
 */
describe('watchJob over gRPC', () => {
  let database: TestDatabase;
  let kit: KitProcess;
  let app: Awaited<ReturnType<typeof NestFactory.createMicroservice>>;
  let client: PublishServiceClient;
  let closeClient: () => void;

  beforeAll(async () => {
    database = await createTestDatabase('jobkit_grpc');
    kit = await openKit(kitEnvironment(database));
    const store = kit.store;

    @Controller()
    class WatchController {
      @GrpcMethod(PUBLISH_SERVICE_NAME, 'WatchPublishTask')
      watchPublishTask(ref: PublishTaskRef): Observable<PublishTask> {
        return watchJob(
          store,
          { tenant: TENANT, userId: ref.userId },
          ref.taskId,
          (job, change) => ({
            taskId: job.id,
            status: job.status,
            progress: change?.items[0]?.progress ?? 0,
            articleTitle: job.params.label,
            resultUrl: '',
            errorMessage: '',
            attempts: change?.items[0]?.attempts ?? 0,
            createdAt: job.createdAt.toISOString(),
            startedAt: job.startedAt?.toISOString() ?? '',
            finishedAt: job.finishedAt?.toISOString() ?? '',
            articleId: '',
          }),
        );
      }
    }
    @Module({ controllers: [WatchController] })
    class WatchModule {}

    const url = `127.0.0.1:${await freePort()}`;
    app = await NestFactory.createMicroservice<MicroserviceOptions>(WatchModule, {
      ...grpcServerOptions({
        proto: 'publish',
        url,
        health: createGrpcHealth(PUBLISH_SERVICE_NAME),
        maxConnectionAgeMs: 600_000,
      }),
      logger: false,
    });
    app.useGlobalFilters(new GrpcExceptionFilter());
    await app.listen();
    ({ client, close: closeClient } = createGrpcClient<PublishServiceClient>({
      proto: 'publish',
      service: PUBLISH_SERVICE_NAME,
      url,
      deadlineMs: 30_000,
      registry: new Registry(),
      credentials: testServiceCredentials,
    }));
  });
  afterAll(async () => {
    closeClient();
    await app.close();
    // Before the kit closes its NATS connection: deleting through a closed one failed silently and
    // left the streams (each reserving its byte limit, until JetStream refused new ones).
    await deleteStreams(kit.nats, kit.store.kind.service);
    await kit.close();
    await database.drop();
  });

  it('streams the task from its first read to its end, every change once, and ends the stream', async () => {
    const owner: JobOwner = { tenant: TENANT, userId: 'alice' };
    const job = await kit.store.submit(owner, {
      params: { label: 'over grpc' },
      items: [{ payload: { value: 1, sleepMs: 200 } }],
      hold: true,
    });
    const seen: PublishTask[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      client
        .watchPublishTask({ taskId: job.id, userId: 'alice', tenant: TENANT })
        .subscribe({ next: (task) => seen.push(task), error: reject, complete: resolve });
    });
    // Released once the stream has its first message, so the release is its first change.
    await waitFor(() => (seen.length > 0 ? true : undefined), {
      what: 'the first message of the stream',
    });
    await kit.worker({ concurrency: 1, maxDeliveries: 3, ackWaitMs: 5_000 });
    await kit.store.release(owner, job.id);
    await ended;

    expect(seen.map((task) => [task.status, task.progress])).toEqual([
      ['pending', 0],
      ['queued', 0],
      ['running', 0],
      ['running', 50],
      ['success', 100],
    ]);
    expect(seen.every((task) => task.taskId === job.id && task.articleTitle === 'over grpc')).toBe(
      true,
    );
    expect(seen.at(-1)?.finishedAt).not.toBe('');
  });

  it("ends the stream with NOT_FOUND for another user's task", async () => {
    const job = await kit.store.submit(
      { tenant: TENANT, userId: 'alice' },
      { params: { label: 'private' }, items: [{ payload: { value: 1 } }], hold: true },
    );
    await expect(
      lastValueFrom(client.watchPublishTask({ taskId: job.id, userId: 'mallory', tenant: TENANT })),
    ).rejects.toMatchObject({ code: 5 });
  });
});
