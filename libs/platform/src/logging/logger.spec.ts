import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { requestIdFrom, runWithRequestContext } from '../context';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createLogger({ service: 'svc', level: 'info', destination }) };
}

describe('logging', () => {
  it('adds the request id of the current context to every line, across awaits', async () => {
    const { lines, logger } = capture();
    await runWithRequestContext({ requestId: 'req-42' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.info('inside');
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({ service: 'svc', requestId: 'req-42', msg: 'inside', level: 'info' });
    expect(lines[1]).not.toHaveProperty('requestId');
  });

  it('redacts secrets and authorization headers', () => {
    const { lines, logger } = capture();
    logger.info({ token: { secret: 'sk-123' }, headers: { authorization: 'Bearer abc' }, password: 'p' }, 'x');
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('sk-123');
    expect(text).not.toContain('Bearer abc');
    expect(text).not.toContain('"p"');
  });

  it('accepts a sane caller request id and replaces anything else', () => {
    expect(requestIdFrom('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    expect(requestIdFrom('bad id\nwith newline')).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFrom(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
