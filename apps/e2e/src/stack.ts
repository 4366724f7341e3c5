import { SignJWT } from 'jose';
import { connect, type NatsConnection } from 'nats';
import { startTestStack, type TestStack } from '@batchgate/testing';
import { checkedFetchFor, type CheckedFetch, type OpenApiResponses } from './openapi-responses';

/** Must match the gateway's local default (apps/gateway/src/config/gateway.config.ts). */
const JWT_SECRET = 'e2e-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface Stack {
  gatewayUrl: string;
  /**
   * A request to the gateway (`path` such as `/api/tokens?size=1`) whose answer is checked against
   * the gateway's own OpenAPI document: an undocumented status or a body that does not match its
   * schema rejects, failing the test that made the call. Every e2e request to the gateway goes
   * through it.
   */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  /** The first event of a live event stream, checked like `fetch`'s answers (CheckedFetch.firstEvent). */
  firstEvent: CheckedFetch['firstEvent'];
  /** The checker behind `fetch`, and how many answers it has checked. */
  openApi: { responses: OpenApiResponses; checked: () => number };
  /** The processes behind the gateway: their addresses, databases and processes. */
  services: TestStack;
  nats: NatsConnection;
  mintToken: (claims: {
    perms: string[];
    sub?: string;
    tenant?: string;
    expiresIn?: string | null;
  }) => Promise<string>;
  /** Stops everything; fails when a process did not exit cleanly. */
  stop: () => Promise<void>;
}

/**
 * The gateway and the services named (token-manager unless others are; each with what it calls)
 * as separate processes of the one test stack (`startTestStack`); `env` per process name.
 */
export async function startStack(
  options: {
    services?: readonly string[];
    env?: Record<string, Record<string, string>>;
    /** Replicas per process name (the gateway's too; `fetch` goes to the first). */
    replicas?: Record<string, number>;
  } = {},
): Promise<Stack> {
  const services = await startTestStack({
    processes: [...(options.services ?? ['token-manager']), 'gateway'],
    replicas: options.replicas,
    env: {
      ...options.env,
      gateway: { JWT_SECRET, BODY_LIMIT_BYTES: '16384', ...options.env?.['gateway'] },
    },
  });
  try {
    const nats = await connect({ servers: 'nats://127.0.0.1:4222' });
    const gatewayUrl = services.url('gateway', 'http');
    const checked = await checkedFetchFor(gatewayUrl);
    return {
      gatewayUrl,
      fetch: checked.fetch,
      firstEvent: checked.firstEvent,
      openApi: { responses: checked.responses, checked: checked.checked },
      services,
      nats,
      mintToken: async ({ perms, sub = 'alice', tenant = 'acme', expiresIn = '5m' }) => {
        // `sub` in the payload, not through setSubject (which refuses a non-string): tests sign bad claims too.
        let jwt = new SignJWT({ sub, tenant, perms })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt();
        if (expiresIn !== null) jwt = jwt.setExpirationTime(expiresIn);
        return jwt.sign(new TextEncoder().encode(JWT_SECRET));
      },
      stop: async () => {
        await nats.close();
        await services.stop();
      },
    };
  } catch (error) {
    await services.stop().catch(() => undefined);
    throw error;
  }
}
