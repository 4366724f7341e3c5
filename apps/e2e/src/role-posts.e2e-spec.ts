import { randomUUID } from 'node:crypto';
import { readMetric, waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

interface PostLine {
  type: 'post' | 'summary';
  index?: number;
  success?: boolean;
  content?: string;
  error_code?: string;
  total?: number;
  succeeded?: number;
  failed?: number;
  duration_ms: number;
}

interface RouteStats {
  requests: number;
  inFlightPeak: number;
  aborted: number;
  responses: Record<string, number>;
}

/** Seed 002's batch post generation through the gateway: each post streamed as it finishes, 2 at once, a disconnect cancels the rest. */
describe('role: batch post generation stream through the gateway', () => {
  let stack: Stack;
  let headers: Record<string, string>;
  let roleId: string;

  const simUrl = () => stack.services.url('upstream-sim', 'http');
  const sim = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${simUrl()}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as T;
  };
  const chatStats = async () => (await sim<{ routes: Record<string, RouteStats | undefined> }>('/__sim/stats')).routes['chat.completions'];

  /**
   * The stream read as it arrives (stack.fetch reads a whole body first): each line with the time
   * it came, and on the way out the whole answer checked against the OpenAPI document like every
   * other e2e answer. `stopAfter` lines, the client disconnects.
   */
  const readStream = async (body: unknown, options: { ndjson?: boolean; stopAfter?: number; onLine?: (line: PostLine) => Promise<void> } = {}) => {
    const path = '/api/post/batch-generate-stream';
    const controller = new AbortController();
    const response = await fetch(new URL(path, stack.gatewayUrl), {
      method: 'POST',
      headers: { ...headers, ...(options.ndjson ? { accept: 'application/x-ndjson' } : {}) },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const lines: PostLine[] = [];
    const separator = options.ndjson ? '\n' : '\n\n';
    for (let consumed = 0; ; ) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const frames = text.slice(consumed).split(separator);
      for (const frame of frames.slice(0, -1)) {
        consumed += frame.length + separator.length;
        const data = options.ndjson ? frame : frame.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
        if (!data) continue;
        const line = JSON.parse(data) as PostLine;
        lines.push(line);
        await options.onLine?.(line);
      }
      if (options.stopAfter !== undefined && lines.length >= options.stopAfter) {
        controller.abort();
        break;
      }
    }
    const problems = stack.openApi.responses.problemsWith({ method: 'POST', url: path, status: response.status, headers: response.headers, body: text });
    expect(problems).toEqual([]);
    return { response, lines };
  };

  beforeAll(async () => {
    stack = await startStack({ services: ['role'] });
    const token = await stack.mintToken({ perms: ['role:create', 'role:list', 'post:generate'], sub: 'alice', tenant: 'acme' });
    headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await stack.services.database('role').query('INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', ['acme', 'posts', 'Ann', 'analyst']);
    const accepted = (await (await stack.fetch('/api/roles', { method: 'POST', headers, body: JSON.stringify({ tenant_id: 'acme', task_id: 'posts', strategy_id: 's' }) })).json()) as { request_id: string };
    const task = await waitFor(
      async () => {
        const current = (await (await stack.fetch(`/api/roles/tasks/${accepted.request_id}`, { headers })).json()) as { status: string; role_id: string };
        return current.status === 'success' ? current : undefined;
      },
      { what: 'the persona' },
    );
    roleId = task.role_id;
  }, 90_000);
  afterAll(() => stack.stop());

  beforeEach(async () => {
    await sim('/__sim/reset', {});
  });

  it('streams each post as it finishes, two at once, a failed post as its own line, then the summary', async () => {
    // Posts take different times: the first line must not wait for the slowest.
    await sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'uniform', minMs: 100, maxMs: 1_500 }, seed: 7 } } });
    const posts = Array.from({ length: 6 }, (_, i) => ({ role_id: roleId, topic: `topic ${i}`, stock: '600000' }));
    posts.push({ role_id: randomUUID(), topic: 'nobody', stock: '600000' });
    let answeredAtFirstLine: number | undefined;
    const { response, lines } = await readStream(
      { posts },
      {
        onLine: async () => {
          answeredAtFirstLine ??= (await chatStats())?.responses['2xx'] ?? 0;
        },
      },
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    // The first line came while other posts were still being generated.
    expect(answeredAtFirstLine).toBeLessThan(6);
    const postLines = lines.filter((l) => l.type === 'post');
    expect(postLines.map((l) => l.index).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(postLines.find((l) => l.index === 6)).toMatchObject({ success: false, error_code: 'ROLE.NOT_FOUND' });
    expect(postLines.filter((l) => l.success).every((l) => (l.content ?? '').length > 0)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', total: 7, succeeded: 6, failed: 1 });
    const chat = await chatStats();
    expect(chat?.requests).toBe(6);
    expect(chat?.inFlightPeak).toBe(2);
  });

  it('answers NDJSON when asked, one line per post and the summary', async () => {
    const { response, lines } = await readStream({ posts: [{ role_id: roleId, topic: 't', stock: '600036' }] }, { ndjson: true });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(lines.map((l) => l.type)).toEqual(['post', 'summary']);
  });

  it('a client that disconnects mid-stream cancels the posts not yet finished', async () => {
    await sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 1_000 } } } });
    const metricsUrl = `${stack.services.url('role', 'ops')}/metrics`;
    const posts = Array.from({ length: 10 }, (_, i) => ({ role_id: roleId, topic: `topic ${i}`, stock: '600000' }));
    const generatedBefore = (await readMetric(metricsUrl, 'role_posts_total', { outcome: 'success' })) ?? 0;
    // Disconnects after the first chunk of lines (two posts finishing together may share it).
    const { lines } = await readStream({ posts }, { stopAfter: 1 });
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.every((l) => l.type === 'post')).toBe(true);
    const cancelled = await waitFor(
      async () => {
        const value = await readMetric(metricsUrl, 'role_posts_total', { outcome: 'cancelled' });
        return value !== undefined && value > 0 ? value : undefined;
      },
      { what: 'the batch to be cancelled' },
    );
    const chat = await waitFor(async () => {
      const stats = await chatStats();
      return stats && stats.aborted > 0 ? stats : undefined;
    }, { what: 'the running posts to be aborted' });
    // The posts running when the client left were aborted; the rest never started.
    expect(chat.requests).toBeLessThan(10);
    const generated = ((await readMetric(metricsUrl, 'role_posts_total', { outcome: 'success' })) ?? 0) - generatedBefore;
    expect(generated + cancelled).toBe(10);
  });
});
