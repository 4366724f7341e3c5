/**
 * Mints a bearer token for the local gateway.
 *   npm run token -- --perms tokens:admin,stock:sync:run --sub alice --tenant acme --ttl 1h
 * Signs with JWT_SECRET (HS256), the gateway's local default unless the environment sets it.
 */
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { gatewayConfigSchema } from '../apps/gateway/src/config/gateway.config';

const { values } = parseArgs({
  options: {
    perms: { type: 'string', default: '' },
    sub: { type: 'string', default: 'local-user' },
    tenant: { type: 'string', default: 'local' },
    ttl: { type: 'string', default: '1h' },
  },
});

async function main(): Promise<void> {
  const config = loadConfigOrExit(gatewayConfigSchema);
  if (config.JWT_ALGORITHM !== 'HS256') {
    throw new Error('mint-token signs HS256 tokens only; asymmetric keys are issued by your identity provider');
  }
  const perms = (values.perms ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  let builder = new SignJWT({ tenant: values.tenant, perms })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(values.sub ?? 'local-user')
    .setIssuedAt()
    .setExpirationTime(values.ttl ?? '1h');
  if (config.JWT_ISSUER) builder = builder.setIssuer(config.JWT_ISSUER);
  if (config.JWT_AUDIENCE) builder = builder.setAudience(config.JWT_AUDIENCE);
  process.stdout.write(`${await builder.sign(new TextEncoder().encode(config.JWT_SECRET))}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
