import { Metadata } from '@grpc/grpc-js';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import pino from 'pino';
import { Registry } from 'prom-client';
import { lastValueFrom, of } from 'rxjs';
import { DomainError } from '../errors';
import { InFlightLimit } from '../overload';
import { GrpcServerInterceptor } from './grpc-server';
import { GrpcPeerAuthentication } from './peer-authentication';
import { SERVICE_CREDENTIAL_HEADER, ServiceCredentials } from './service-credentials';

const SECRET = 'a-test-secret-that-is-at-least-32-chars';
const METHOD = '/tokens.v1.TokenManagerService/LeaseTokens';

/** The server side as run-grpc-service.ts composes it, called the way Nest calls a global interceptor. */
function server() {
  const registry = new Registry();
  const credentials = new ServiceCredentials('token-manager', SECRET);
  const logger = pino({ level: 'silent' });
  const interceptor = new GrpcServerInterceptor(registry, logger, 500, new InFlightLimit(10), new GrpcPeerAuthentication(credentials, logger));
  let handled = 0;
  const handler: CallHandler = { handle: () => (handled++, of('answer')) };
  const call = async (credential: string | undefined) => {
    const metadata = new Metadata();
    if (credential !== undefined) metadata.set(SERVICE_CREDENTIAL_HEADER, credential);
    const args = [{}, metadata, { getPath: () => METHOD, getDeadline: () => Infinity }];
    const context = { getArgByIndex: (i: number) => args[i], getClass: () => Object, getHandler: () => call } as unknown as ExecutionContext;
    return lastValueFrom(interceptor.intercept(context, handler)).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  };
  // The same call served as PlatformGrpcServer serves a unary RPC: the controller method as a grpc-js handler.
  const unary = interceptor.serveUnary(() => (handled++, Promise.resolve('answer')));
  const callUnary = async (credential: string | undefined) => {
    const metadata = new Metadata();
    if (credential !== undefined) metadata.set(SERVICE_CREDENTIAL_HEADER, credential);
    const call = { request: {}, metadata, getPath: () => METHOD, getDeadline: () => Infinity, on: () => call, removeListener: () => call };
    return new Promise<{ value?: unknown; error?: unknown }>((resolve) =>
      unary(call as unknown as Parameters<typeof unary>[0], (error: unknown, value?: unknown) => resolve(error ? { error } : { value })),
    );
  };
  const handledCount = async (code: string) =>
    (await registry.getSingleMetric('grpc_server_handled_total')?.get())?.values.find((v) => v.labels.code === code && v.labels.method === METHOD)?.value ?? 0;
  return { call, callUnary, handledCount, handled: () => handled };
}

describe('gRPC peer authentication', () => {
  it.each([
    ['no credential', undefined],
    ['a credential signed with another secret', 'forged'],
  ])('refuses a call with %s: UNAUTHENTICATED, the handler never runs, counted in the RED metrics', async (_name, credential) => {
    const { call, handledCount, handled } = server();
    const header =
      credential === 'forged' ? `Bearer ${await new ServiceCredentials('intruder', 'another-secret-that-is-long-enough-too').token()}` : credential;
    const outcome = await call(header);
    expect(outcome).toEqual({ error: expect.any(DomainError) });
    expect((outcome as { error: DomainError }).error.kind).toBe('unauthenticated');
    expect(handled()).toBe(0);
    expect(await handledCount('UNAUTHENTICATED')).toBe(1);
  });

  it("runs a peer's call holding the deployment's credential, also once it is remembered, and counts each as OK", async () => {
    const { call, handledCount, handled } = server();
    const header = `Bearer ${await new ServiceCredentials('gateway', SECRET).token()}`;
    expect(await call(header)).toEqual({ value: 'answer' });
    expect(await call(header)).toEqual({ value: 'answer' });
    expect(handled()).toBe(2);
    expect(await handledCount('OK')).toBe(2);
    expect(await handledCount('UNAUTHENTICATED')).toBe(0);
  });

  it('holds the same rules for a unary RPC served directly: refused with the UNAUTHENTICATED status and code, run once known', async () => {
    const { callUnary, handledCount, handled } = server();
    const refused = await callUnary(undefined);
    expect(refused.error).toMatchObject({ code: 16 }); // UNAUTHENTICATED, as GrpcExceptionFilter would map it
    expect((refused.error as { metadata: Metadata }).metadata.get('x-error-code')).toEqual(['SERVICE.UNAUTHENTICATED']);
    expect(handled()).toBe(0);
    const header = `Bearer ${await new ServiceCredentials('gateway', SECRET).token()}`;
    expect(await callUnary(header)).toEqual({ value: 'answer' });
    expect(await callUnary(header)).toEqual({ value: 'answer' });
    expect(handled()).toBe(2);
    expect(await handledCount('OK')).toBe(2);
    expect(await handledCount('UNAUTHENTICATED')).toBe(1);
  });
});
