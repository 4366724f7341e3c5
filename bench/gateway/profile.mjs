/**
 * Summarises the .cpuprofile files a bench run wrote (SPAWN_NODE_ARGS="--cpu-prof --cpu-prof-dir=tmp/prof"):
 * per process, self and inclusive time by package and by function, counting only the busy seconds
 * after start-up (1 s buckets at least BUSY busy, after the first START_S seconds), so module
 * loading and Nest's start are mostly not mixed into the request path.
 *   node bench/gateway/profile.mjs tmp/prof [TOP=25]
 * Hand-written: the profile is a small JSON tree, and no kept library summarises it by package.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir = 'tmp/prof', topArg = '25'] = process.argv.slice(2);
const TOP = Number(topArg);
const BUSY = 0.15;
const START_S = 3;

/** node_modules/<pkg> (scoped too), apps/<app>, libs/<lib>, node:internal, or the V8 pseudo-frames. */
function packageOf(frame) {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 13).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const app = /\/(apps|libs)\/([^/]+)\/src\/(.*?)(\/[^/]+)?$/.exec(url);
  if (app) return `${app[1]}/${app[2]}${app[1] === 'libs' ? `/${app[3].split('/')[0]}` : ''}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const apps = new Set();
  for (const n of profile.nodes) {
    const m = /\/apps\/([^/]+)\/src\//.exec(n.callFrame.url) ?? /\/bench\/gateway\/([^/.]+)/.exec(n.callFrame.url);
    if (m && m[1] !== 'e2e') apps.add(m[1]);
  }
  // Sample times, then 1 s buckets of busy time.
  let t = profile.startTime;
  const samples = profile.samples.map((id, i) => {
    t += profile.timeDeltas[i];
    return { id, t, dt: profile.timeDeltas[i + 1] ?? 0 };
  });
  const idle = (id) => ['(idle)', '(program)'].includes(byId.get(id).callFrame.functionName) && byId.get(id).callFrame.url === '';
  const buckets = new Map();
  for (const s of samples) {
    const b = Math.floor((s.t - profile.startTime) / 1e6);
    if (!idle(s.id)) buckets.set(b, (buckets.get(b) ?? 0) + s.dt);
  }
  const busy = new Set([...buckets].filter(([b, us]) => b >= START_S && us >= BUSY * 1e6).map(([b]) => b));
  const self = new Map();
  const inclusivePkg = new Map();
  const inclusiveFn = new Map();
  const selfPkg = new Map();
  let total = 0;
  for (const s of samples) {
    if (!busy.has(Math.floor((s.t - profile.startTime) / 1e6))) continue;
    const node = byId.get(s.id);
    if (idle(s.id)) continue;
    total += s.dt;
    const fnKey = (f) => `${f.functionName || '(anonymous)'} ${packageOf(f)}${f.url && !f.url.includes('node_modules') ? ` ${f.url.split('/').slice(-1)[0]}:${f.lineNumber + 1}` : ''}`;
    self.set(fnKey(node.callFrame), (self.get(fnKey(node.callFrame)) ?? 0) + s.dt);
    selfPkg.set(packageOf(node.callFrame), (selfPkg.get(packageOf(node.callFrame)) ?? 0) + s.dt);
    const seenPkg = new Set();
    const seenFn = new Set();
    for (let id = s.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id).callFrame;
      seenPkg.add(packageOf(f));
      seenFn.add(fnKey(f));
    }
    for (const p of seenPkg) inclusivePkg.set(p, (inclusivePkg.get(p) ?? 0) + s.dt);
    for (const f of seenFn) inclusiveFn.set(f, (inclusiveFn.get(f) ?? 0) + s.dt);
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const top = (map, n = TOP) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${pct(us)}  ${k}`).join('\n');
  console.log(`\n=== ${file}: ${[...apps].join(', ')}; ${(total / 1e6).toFixed(1)} s busy in ${busy.size} busy seconds`);
  console.log(`self by package:\n${top(selfPkg, 20)}`);
  console.log(`inclusive by package:\n${top(inclusivePkg, 20)}`);
  console.log(`self by function:\n${top(self)}`);
  console.log(`inclusive by function:\n${top(inclusiveFn, TOP * 2)}`);
}

for (const name of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile')).sort()) summarise(join(dir, name));
