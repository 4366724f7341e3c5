import { EventEmitter, once } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { currentRequestSignal } from '../context';
import { InFlightLimit } from '../overload';
import { GrpcServerInterceptor, type UnaryMethod } from './grpc-server';
import { GrpcPeerAuthentication } from './peer-authentication';
import { SERVICE_CREDENTIAL_HEADER, ServiceCredentials } from './service-credentials';

const SECRET = 'a-test-secret-that-is-at-least-32-chars';
const METHOD = '/klinesync.v1.KlineSyncService/GetSyncJob';

/** A unary call as grpc-js hands it to a handler: an emitter of 'cancelled' with the `cancelled` flag. */
class FakeCall extends EventEmitter {
  cancelled = false;
  readonly request = {};
  constructor(
    readonly metadata: Metadata,
    private readonly deadline: number,
  ) {
    super();
  }
  getPath = () => METHOD;
  getDeadline = () => this.deadline;
  cancel(): void {
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }
}

async function serve(handler: UnaryMethod, deadline = Date.now() + 60_000) {
  const logger = pino({ level: 'silent' });
  const credentials = new ServiceCredentials('gateway', SECRET);
  const interceptor = new GrpcServerInterceptor(new Registry(), logger, 500, new InFlightLimit(10), new GrpcPeerAuthentication(credentials, logger));
  const metadata = new Metadata();
  metadata.set(SERVICE_CREDENTIAL_HEADER, `Bearer ${await credentials.token()}`);
  const call = new FakeCall(metadata, deadline);
  const unary = interceptor.serveUnary(handler);
  const answered = new Promise<{ error: unknown; value: unknown }>((resolve) =>
    unary(call as unknown as Parameters<typeof unary>[0], (error: unknown, value?: unknown) => resolve({ error, value })),
  );
  return { call, answered };
}

const machineCode = (reason: unknown) => (reason as { code?: string }).code;

describe("a served call's signal", () => {
  it('is not made for a handler that does not read it: no listener on the call', async () => {
    let listeners = -1;
    const { call, answered } = await serve(async () => {
      await Promise.resolve();
      listeners = call.listenerCount('cancelled');
      return 'answer';
    });
    expect(await answered).toEqual({ error: null, value: 'answer' });
    expect(listeners).toBe(0);
  });

  it('aborts when the caller cancels after it was read, and frees its listener when the call ends', async () => {
    let cancelledWith: unknown;
    const { call, answered } = await serve(async () => {
      const signal = currentRequestSignal();
      expect(signal?.aborted).toBe(false);
      const aborted = once(signal as AbortSignal, 'abort');
      call.cancel();
      await aborted;
      cancelledWith = signal?.reason;
      return 'late';
    });
    await answered;
    expect(machineCode(cancelledWith)).toBe('CALL.CANCELLED');
    expect(call.listenerCount('cancelled')).toBe(0);
  });

  it('is aborted at once when read after the caller cancelled', async () => {
    let signal: AbortSignal | undefined;
    const { call, answered } = await serve(async () => {
      call.cancel();
      await Promise.resolve();
      signal = currentRequestSignal();
      return 'late';
    });
    await answered;
    expect(signal?.aborted).toBe(true);
    expect(machineCode(signal?.reason)).toBe('CALL.CANCELLED');
  });

  it("aborts at the caller's deadline", async () => {
    let reason: unknown;
    const { answered } = await serve(async () => {
      const signal = currentRequestSignal() as AbortSignal;
      await once(signal, 'abort');
      reason = signal.reason;
      return 'late';
    }, Date.now() + 100);
    await answered;
    expect(machineCode(reason)).toBe('DEADLINE.EXCEEDED');
  });

  it('read after the call ended, keeps how it ended: not aborted by a cancel that comes later', async () => {
    let open!: () => void;
    let readLater!: Promise<AbortSignal | undefined>;
    const { call, answered } = await serve(() => {
      // Work the call left behind, still in its context, reading the signal once the call ended.
      readLater = new Promise<void>((resolve) => (open = resolve)).then(() => currentRequestSignal());
      return Promise.resolve('answer');
    });
    await answered;
    call.cancel();
    open();
    const signal = await readLater;
    expect(signal).toBeDefined();
    expect(signal?.aborted).toBe(false);
    expect(call.listenerCount('cancelled')).toBe(0);
  });
});
