import { z } from 'zod';
import { ConfigError, loadConfig } from './load-config';
import { env } from './env-fields';

const schema = z.object({
  PORT: env.port(3000),
  WORKERS: env.int(4, 1, 64),
  VERBOSE: env.bool(false),
  MODE: env.oneOf(['fast', 'safe'] as const, 'safe'),
});

describe('loadConfig', () => {
  it('applies defaults and parses strings into typed values', () => {
    expect(loadConfig(schema, {})).toEqual({ PORT: 3000, WORKERS: 4, VERBOSE: false, MODE: 'safe' });
    expect(loadConfig(schema, { PORT: '8080', WORKERS: '16', VERBOSE: 'true', MODE: 'fast' })).toEqual({
      PORT: 8080,
      WORKERS: 16,
      VERBOSE: true,
      MODE: 'fast',
    });
  });

  it('reports every bad variable on its own line with the value it got', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig(schema, { PORT: 'http', WORKERS: '500', VERBOSE: 'yes', MODE: 'turbo' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems).toEqual([
      'PORT: must be a TCP port number (got "http")',
      'WORKERS: must be an integer between 1 and 64 (got "500")',
      'VERBOSE: must be true or false (got "yes")',
      'MODE: must be one of fast, safe (got "turbo")',
    ]);
    expect(error?.message.split('\n')).toHaveLength(5);
  });
});
