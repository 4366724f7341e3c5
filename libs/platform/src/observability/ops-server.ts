import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Readiness } from '../health';

export interface OpsEndpoints {
  registry: Registry;
  readiness: Readiness;
}

export interface OpsResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * Answers the operational endpoints shared by every process: `/metrics` (Prometheus text),
 * `/healthz` (the process is alive) and `/readyz` (dependencies reachable, not shutting down).
 * Returns undefined for any other path so an HTTP app can mount it beside its own routes.
 */
export async function answerOpsRequest(path: string, endpoints: OpsEndpoints): Promise<OpsResponse | undefined> {
  switch (path) {
    case '/metrics':
      return { status: 200, contentType: endpoints.registry.contentType, body: await endpoints.registry.metrics() };
    case '/healthz':
      return { status: 200, contentType: 'application/json', body: '{"status":"ok"}' };
    case '/readyz': {
      const report = await endpoints.readiness.report();
      return { status: report.ready ? 200 : 503, contentType: 'application/json', body: JSON.stringify(report) };
    }
    default:
      return undefined;
  }
}

/**
 * The small HTTP side port of a gRPC app (gRPC apps have no HTTP server of their own).
 * Hand-written on node:http: three fixed GET routes do not justify a web framework per service.
 */
export async function startOpsServer(endpoints: OpsEndpoints, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    answerOpsRequest(path, endpoints).then(
      (answer) => {
        if (!answer) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
          return;
        }
        res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
