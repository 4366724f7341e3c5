import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnService } from '@batchgate/testing';

const ENTRY = 'apps/upstream-sim/src/main.ts';

describe('upstream-sim process (main.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'upstream-sim-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with the demo profile plus SIM_CONFIG_FILE, serves, and exits 0 on SIGTERM', async () => {
    const file = join(dir, 'sim.json');
    writeFileSync(
      file,
      JSON.stringify({
        routes: { 'market.kline': { latency: { kind: 'fixed', ms: 0 } } },
        market: { tokens: [{ token: 'from-file' }] },
      }),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const sim = await spawnService({
      entry: ENTRY,
      env: { SIM_PORT: String(port), SIM_PROFILE: 'demo', SIM_CONFIG_FILE: file },
      readyUrl: `${url}/readyz`,
    });
    try {
      const config = (await (await fetch(`${url}/__sim/config`)).json()) as {
        routes: Record<string, unknown>;
        market: { tokens: Array<{ token: string }> };
      };
      expect(config.routes['market.kline']).toEqual({ latency: { kind: 'fixed', ms: 0 } });
      expect(config.routes['chat.completions']).toMatchObject({ latency: { kind: 'lognormal' } });
      expect(config.market.tokens.map((t) => t.token)).toEqual([
        ...Array.from({ length: 12 }, (_, i) => `demo-itick-token-${i + 1}`),
        'from-file',
      ]);
      const kline = await fetch(`${url}/stock/kline?region=SH&code=600000&kType=8&limit=1`, {
        headers: { token: 'from-file' },
      });
      expect(((await kline.json()) as { code: number }).code).toBe(0);
      expect(await sim.stop()).toBe(0);
      expect(sim.output()).toContain('"msg":"upstream-sim started"');
      expect(sim.output()).toContain('"msg":"stopped"');
    } finally {
      await sim.kill();
    }
  });

  it('refuses bad environment variables and a bad SIM_CONFIG_FILE with one line each, exit 78', async () => {
    const badEnv = await spawnService({
      entry: ENTRY,
      env: { SIM_PORT: 'http', SIM_PROFILE: 'loud' },
    });
    expect(await badEnv.exited).toBe(78);
    expect(badEnv.output()).toContain('SIM_PORT: must be a TCP port number (got "http")');
    expect(badEnv.output()).toContain('SIM_PROFILE: must be one of quiet, demo (got "loud")');

    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ routes: { 'market.kline': { errorRate: 3 } } }));
    const badFile = await spawnService({
      entry: ENTRY,
      env: { SIM_PORT: String(await freePort()), SIM_CONFIG_FILE: file },
    });
    expect(await badFile.exited).toBe(78);
    expect(badFile.output()).toMatch(
      /SIM_CONFIG_FILE .*bad\.json: routes\.market\.kline\.errorRate: /,
    );
  });
});
