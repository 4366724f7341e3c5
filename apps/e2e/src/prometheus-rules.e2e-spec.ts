import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The alerting and recording rules are code with tests (deploy/prometheus/rules): promtool
 * checks them and runs their unit tests, every alert has a firing test case, and every alert's
 * runbook link lands on a section of deploy/runbooks.md.
 */
const RULES_DIR = join(__dirname, '../../../deploy/prometheus/rules');
const RUNBOOKS = join(__dirname, '../../../deploy/runbooks.md');

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: RULES_DIR, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new Error("promtool is not installed: it comes with Debian's prometheus package (apt-get install prometheus)");
    throw new Error(`promtool ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

describe('Prometheus rules', () => {
  const rules = readFileSync(join(RULES_DIR, 'batchgate.rules.yml'), 'utf8');
  const tests = readFileSync(join(RULES_DIR, 'batchgate.rules.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((match) => match[1] ?? '');

  it('are loaded by the scrape configuration, which promtool accepts', () => {
    expect(promtool('check', 'config', '../prometheus.yml')).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('pass promtool check rules and every unit test', () => {
    expect(promtool('check', 'rules', 'batchgate.rules.yml')).toMatch(/SUCCESS: \d+ rules found/);
    expect(promtool('test', 'rules', 'batchgate.rules.test.yml')).toMatch(/SUCCESS/);
  });

  it('test every alert firing, and link each to its runbook section', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    const runbookSections = new Set([...readFileSync(RUNBOOKS, 'utf8').matchAll(/^## (\w+)$/gm)].map((match) => match[1]));
    for (const alert of alerts) {
      // A case that expects the alert with labels: it fires in at least one test.
      expect({ alert, firingCase: new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`).test(tests) }).toEqual({ alert, firingCase: true });
      expect({ alert, runbook: runbookSections.has(alert) }).toEqual({ alert, runbook: true });
      expect(rules).toContain(`runbook_url: deploy/runbooks.md#${alert.toLowerCase()}`);
    }
  });
});
