import { Writable } from 'node:stream';
import type { LevelWithSilent } from 'pino';
import { AccessLog } from './access-log';
import { createLogger } from './logger';

function accessLogAt(level: LevelWithSilent) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, accessLog: new AccessLog(createLogger({ service: 'svc', level, destination }), 500) };
}

describe('access log', () => {
  it('at info, writes nothing for a request that went well and was fast', () => {
    const { lines, accessLog } = accessLogAt('info');
    accessLog.finished('request', { route: '/a', status: '200' }, 12, false);
    accessLog.finished('request', { route: '/a', status: '404' }, 499, false);
    expect(lines).toEqual([]);
  });

  it('always writes slow requests (info) and server failures (warn), with their fields and duration', () => {
    const { lines, accessLog } = accessLogAt('info');
    accessLog.finished('request', { route: '/slow', status: '200' }, 500, false);
    accessLog.finished('rpc', { method: '/x.Y/Z', code: 'INTERNAL' }, 3, true);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', msg: 'request', route: '/slow', status: '200', ms: 500, slow: true }),
      expect.objectContaining({ level: 'warn', msg: 'rpc', method: '/x.Y/Z', code: 'INTERNAL', ms: 3 }),
    ]);
  });

  it('at debug, writes every request', () => {
    const { lines, accessLog } = accessLogAt('debug');
    accessLog.finished('request', { route: '/a', status: '200' }, 12, false);
    expect(lines).toEqual([expect.objectContaining({ level: 'debug', msg: 'request', route: '/a', ms: 12 })]);
    expect(lines[0]).not.toHaveProperty('slow');
  });
});
