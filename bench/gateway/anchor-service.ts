/**
 * The far side of the bench's bare hop: a plain grpc-js server whose one handler answers at once.
 * ANCHOR_GRPC_PORT to bind; prints "anchor-service listening" when ready.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { anchorService } from './anchor-proto';

const port = Number(process.env['ANCHOR_GRPC_PORT']);
const server = new Server();
server.addService(anchorService().service, {
  getItem: (call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) =>
    callback(null, { id: call.request.id, status: 'success', createdAtMs: Date.now() }),
});
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
  process.stdout.write('anchor-service listening\n');
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
