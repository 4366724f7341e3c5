import { RouteFaultModel, routeFaultsSchema, type FaultDecision } from './route-faults';

const model = (knobs: unknown, appliedAt = 1_000_000) =>
  new RouteFaultModel(routeFaultsSchema.parse(knobs), 'market.kline', appliedAt);
const decide = (m: RouteFaultModel, n: number, now = 1_000_000, inFlight = 1) =>
  Array.from({ length: n }, () => m.decide(now, inFlight));

describe('RouteFaultModel', () => {
  it('serves at once without knobs', () => {
    expect(model({}).decide(0, 1)).toEqual({ action: 'serve', delayMs: 0 });
  });

  it('fails about errorRate of the requests, the same ones for the same seed', () => {
    const knobs = { errorRate: 0.2, errorKind: 'reset', seed: 9 };
    const decisions = decide(model(knobs), 10_000);
    const errors = decisions.filter((d) => d.action === 'error');
    expect(Math.abs(errors.length - 2_000)).toBeLessThan(200);
    expect(errors.every((d) => d.action === 'error' && d.kind === 'reset')).toBe(true);
    expect(decide(model(knobs), 100)).toEqual(decisions.slice(0, 100));
  });

  it('draws latency and errors from separate streams', () => {
    const pattern = (decisions: FaultDecision[]) => decisions.map((d) => d.action);
    const fast = decide(model({ errorRate: 0.3, seed: 4 }), 200);
    const slow = decide(
      model({ errorRate: 0.3, seed: 4, latency: { kind: 'uniform', minMs: 1, maxMs: 100 } }),
      200,
    );
    expect(pattern(slow)).toEqual(pattern(fast));
  });

  it('adds slopeMs per request in flight above the knee', () => {
    const m = model({ latency: { kind: 'fixed', ms: 10 }, knee: { capacity: 4, slopeMs: 5 } });
    expect([1, 4, 5, 8, 20].map((inFlight) => m.decide(0, inFlight))).toEqual(
      [10, 10, 15, 30, 90].map((delayMs) => ({ action: 'serve', delayMs })),
    );
  });

  it('answers inside outage windows: absolute, and relative to when the knobs were applied', () => {
    const absolute = model({ outages: [{ startMs: 2_000, endMs: 3_000 }] });
    expect([1_999, 2_000, 2_999, 3_000].map((now) => absolute.decide(now, 1).action)).toEqual([
      'serve',
      'outage',
      'outage',
      'serve',
    ]);

    const relative = model(
      { outages: [{ startMs: 100, endMs: 200, relative: true, kind: 'reset' }] },
      50_000,
    );
    expect(relative.faults.outages).toEqual([
      { startMs: 50_100, endMs: 50_200, relative: false, kind: 'reset' },
    ]);
    expect(relative.decide(50_150, 1)).toMatchObject({
      action: 'outage',
      window: { kind: 'reset' },
    });
    expect(relative.decide(50_250, 1).action).toBe('serve');
  });

  it('validates knobs', () => {
    expect(routeFaultsSchema.safeParse({ errorRate: 1.5 }).success).toBe(false);
    expect(routeFaultsSchema.safeParse({ errorKind: 'explode' }).success).toBe(false);
    expect(routeFaultsSchema.safeParse({ outages: [{ startMs: 5, endMs: 5 }] }).success).toBe(
      false,
    );
    expect(routeFaultsSchema.safeParse({ knee: { capacity: 0, slopeMs: 1 } }).success).toBe(false);
    expect(
      routeFaultsSchema.safeParse({ latency: { kind: 'fixed', ms: 1 }, colour: 'red' }).success,
    ).toBe(false);
  });
});
