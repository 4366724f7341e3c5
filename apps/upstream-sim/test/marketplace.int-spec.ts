import { productImg, productName } from '../src/marketplace/marketplace.api';
import { json, startSim, type SimUnderTest } from './sim.harness';

interface Invoke {
  success: boolean;
  alreadyOffline: boolean;
  repeat: boolean;
  offlineMsgId?: string;
  productName: string;
  productImg: string;
}

interface Poll {
  status: 'pending' | 'success' | 'failed';
  final: boolean;
  pollCount: number;
  productName: string;
  productImg: string;
  message?: string;
}

describe('upstream-sim marketplace seller API (seed 000)', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const session = async () => {
    const { parentMsgId } = await json<{ parentMsgId: string }>(
      sim.post('/marketplace/conversations'),
    );
    const { toolId } = await json<{ toolId: string }>(sim.get('/marketplace/tools/offline'));
    return { parentMsgId, toolId };
  };
  const invoke = (toolId: string, parentMsgId: string, productId: number) =>
    sim.post(`/marketplace/tools/${toolId}/invoke`, { parentMsgId, productId });
  const poll = (offlineMsgId: string) =>
    json<Poll>(sim.get(`/marketplace/messages/${offlineMsgId}`));
  const effects = async () => (await sim.stats()).effects['marketplace.offline'] ?? {};

  it('de-lists through conversation, tool, invoke and polls (configured per product), with name and image', async () => {
    await sim.configure({ marketplace: { pollsByProduct: { '42': 3 } } });
    const { parentMsgId, toolId } = await session();
    expect(parentMsgId).toMatch(/^\d{15}$/);
    expect(toolId).toBe('2406230000031');
    const started = await invoke(toolId, parentMsgId, 42);
    expect(started.status).toBe(202);
    const { offlineMsgId } = (await started.json()) as Invoke;
    const polls = [
      await poll(offlineMsgId ?? ''),
      await poll(offlineMsgId ?? ''),
      await poll(offlineMsgId ?? ''),
    ];
    expect(polls.map((p) => [p.status, p.final, p.pollCount])).toEqual([
      ['pending', false, 1],
      ['pending', false, 2],
      ['success', true, 3],
    ]);
    expect(polls[2]).toMatchObject({ productName: productName(42), productImg: productImg(42) });
    // Polling a final message again changes nothing.
    expect(await poll(offlineMsgId ?? '')).toMatchObject({ status: 'success', pollCount: 4 });
    expect((await effects())['42']).toEqual({ effects: 1, repeats: 0 });
  });

  it('is idempotent per product: a repeat of an offline or running de-list is answered as such and counted', async () => {
    const { parentMsgId, toolId } = await session();
    const first = await json<Invoke>(invoke(toolId, parentMsgId, 7));
    const whileRunning = await json<Invoke>(invoke(toolId, parentMsgId, 7));
    expect(whileRunning).toMatchObject({
      repeat: true,
      alreadyOffline: false,
      offlineMsgId: first.offlineMsgId,
    });
    await poll(first.offlineMsgId ?? '');
    await poll(first.offlineMsgId ?? '');
    const again = await invoke(toolId, parentMsgId, 7);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      alreadyOffline: true,
      repeat: true,
      productName: productName(7),
      productImg: productImg(7),
    });
    expect((await effects())['7']).toEqual({ effects: 1, repeats: 2 });
  });

  it('de-lists 200 products 8 at a time with exactly one effect each', async () => {
    await sim.configure({ marketplace: { defaultPolls: 1 } });
    const { parentMsgId, toolId } = await session();
    const ids = Array.from({ length: 200 }, (_, i) => 1_000 + i);
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map(async (id) => {
          const { offlineMsgId } = await json<Invoke>(invoke(toolId, parentMsgId, id));
          expect(await poll(offlineMsgId ?? '')).toMatchObject({ status: 'success', pollCount: 1 });
        }),
      );
    }
    const all = await effects();
    expect(Object.keys(all)).toHaveLength(200);
    expect(Object.values(all).every((e) => e.effects === 1 && e.repeats === 0)).toBe(true);
  });

  it('reports a refused de-list as failed and final, and lets it be tried again', async () => {
    await sim.configure({ marketplace: { defaultPolls: 1, failingProducts: [13] } });
    const { parentMsgId, toolId } = await session();
    const { offlineMsgId } = await json<Invoke>(invoke(toolId, parentMsgId, 13));
    expect(await poll(offlineMsgId ?? '')).toMatchObject({
      status: 'failed',
      final: true,
      message: expect.stringContaining('promotion'),
    });
    expect((await effects())['13']).toBeUndefined();
    const retry = await json<Invoke>(invoke(toolId, parentMsgId, 13));
    expect(retry).toMatchObject({ repeat: false });
    expect(retry.offlineMsgId).not.toBe(offlineMsgId);
  });

  it('refuses unknown tools, products, messages and conversations, and bad input', async () => {
    const { parentMsgId, toolId } = await session();
    await sim.configure({
      marketplace: {
        unknownProducts: [404],
        toolId: '2406230000099',
        requireKnownConversation: true,
      },
    });
    expect(await json(invoke(toolId, parentMsgId, 1))).toMatchObject({
      success: false,
      code: 'TOOL_NOT_FOUND',
    });
    const newTool = '2406230000099';
    expect(await json(invoke(newTool, parentMsgId, 404))).toMatchObject({
      code: 'PRODUCT_NOT_FOUND',
    });
    expect(await json(invoke(newTool, 'made-up', 1))).toMatchObject({
      code: 'CONVERSATION_NOT_FOUND',
    });
    expect((await invoke(newTool, parentMsgId, 1)).status).toBe(202);
    const bad = await invoke(newTool, parentMsgId, -1);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringContaining('productId'),
    });
    expect((await sim.get('/marketplace/messages/nope')).status).toBe(404);
  });
});
