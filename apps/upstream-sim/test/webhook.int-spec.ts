import { json, startSim, type SimUnderTest } from './sim.harness';

interface Deliveries {
  total: number;
  deliveries: Array<{ idempotencyKey: string | null; requestId: string | null; body: unknown }>;
}

describe('upstream-sim notification webhook receiver', () => {
  let sim: SimUnderTest;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('records every delivery with its idempotency key; repeats are counted per key', async () => {
    const first = await json(
      sim.post(
        '/webhook/notify',
        { event: 'role.created', roleId: 1 },
        { 'idempotency-key': 'role-1', 'x-request-id': 'req-1' },
      ),
    );
    expect(first).toEqual({ received: true, duplicate: false });
    expect(
      await json(
        sim.post(
          '/webhook/notify',
          { event: 'role.created', roleId: 1 },
          { 'idempotency-key': 'role-1' },
        ),
      ),
    ).toEqual({
      received: true,
      duplicate: true,
    });
    await sim.post('/webhook/notify', { event: 'role.created', idempotency_key: 'role-2' });
    await sim.post('/webhook/notify', { event: 'no key at all' });

    const stats = await sim.stats();
    expect(stats.effects['webhook.delivery']).toEqual({
      'role-1': { effects: 1, repeats: 1 },
      'role-2': { effects: 1, repeats: 0 },
    });
    expect(stats.webhook).toEqual({ deliveries: 4, withoutKey: 1 });
    expect(stats.routes['webhook.notify']).toMatchObject({ requests: 4, responses: { '2xx': 4 } });

    const all = await json<Deliveries>(sim.get('/__sim/webhook/deliveries'));
    expect(all.deliveries.map((d) => d.idempotencyKey)).toEqual([
      'role-1',
      'role-1',
      'role-2',
      null,
    ]);
    const one = await json<Deliveries>(sim.get('/__sim/webhook/deliveries?key=role-1'));
    expect(one.total).toBe(2);
    expect(one.deliveries[0]).toMatchObject({
      requestId: 'req-1',
      body: { event: 'role.created', roleId: 1 },
    });
  });

  it('accepts any content type', async () => {
    const response = await fetch(`${sim.url}/webhook/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'form-1' },
      body: 'event=role.created&roleId=2',
    });
    expect(response.status).toBe(200);
    expect((await sim.stats()).effects['webhook.delivery']?.['form-1']).toEqual({
      effects: 1,
      repeats: 0,
    });
    expect(
      (await json<Deliveries>(sim.get('/__sim/webhook/deliveries?key=form-1'))).deliveries[0]?.body,
    ).toBe('event=role.created&roleId=2');
  });
});
