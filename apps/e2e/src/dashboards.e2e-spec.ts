import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@batchgate/testing';

const DASHBOARDS = join(REPO_ROOT, 'deploy/grafana/dashboards');

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/** The metric names a PromQL expression reads (label matchers, groupings and functions removed). */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  // A name followed by "(" is a function.
  const names = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)].filter((m) => m[2] === undefined).map((m) => m[1] ?? '');
  return names.filter((name) => !PROMQL_WORDS.has(name));
}

interface Panel {
  title?: string;
  type?: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr?: string }>;
}

function readDashboards(): Array<{ file: string; panels: Panel[]; templating: { list: Array<{ name: string }> } }> {
  return readdirSync(DASHBOARDS)
    .filter((file) => file.endsWith('.json'))
    .map((file) => ({ file, ...(JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as { panels: Panel[]; templating: { list: Array<{ name: string }> } }) }));
}

/**
 * The dashboards' own rules: the viewer picks the deployment's slice, and no query escapes it.
 * (That every panel plots data the services export is checked against a real Prometheus in
 * prometheus.e2e-spec.ts.)
 */
describe('Grafana dashboards', () => {
  it('reads PromQL the way the check needs', () => {
    expect(metricNamesIn('histogram_quantile(0.95, sum by (le, outcome) (rate(kline_sync_stock_duration_seconds_bucket[5m])))')).toEqual([
      'kline_sync_stock_duration_seconds_bucket',
    ]);
    expect(metricNamesIn('max by (p) (a_used) / max by (p) (a_limit > 0)')).toEqual(['a_used', 'a_limit']);
    expect(metricNamesIn('sum(rate(x_total{outcome="failure"}[5m])) / sum(rate(x_total[5m]))')).toEqual(['x_total', 'x_total']);
  });

  it('let the viewer pick the datasource, namespace, service and instance, and filter every query by them', () => {
    const unfiltered: string[] = [];
    for (const dashboard of readDashboards()) {
      expect({ file: dashboard.file, variables: dashboard.templating.list.map((variable) => variable.name) }).toEqual({
        file: dashboard.file,
        variables: ['datasource', 'namespace', 'service', 'instance'],
      });
      for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
        if (panel.datasource?.uid !== '${datasource}') unfiltered.push(`${dashboard.file} "${panel.title}": fixed datasource`);
        for (const target of panel.targets ?? []) {
          const selectors = (target.expr ?? '').match(/[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}/g) ?? [];
          const names = metricNamesIn(target.expr ?? '');
          if (selectors.length !== names.length || selectors.some((selector) => !['$namespace', '$service', '$instance'].every((v) => selector.includes(v)))) {
            unfiltered.push(`${dashboard.file} "${panel.title}": ${target.expr}`);
          }
        }
      }
    }
    expect(unfiltered).toEqual([]);
  });

});
