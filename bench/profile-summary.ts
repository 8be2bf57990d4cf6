/**
 * Summarises a V8 CPU profile (`.cpuprofile`, as `bench:throughput --profile=DIR` writes them):
 * busy time by package or Herald file, by function (self time), and the inclusive time of
 * Herald's own functions.
 *
 *   npx tsx bench/profile-summary.ts FILE [--top=40] [--from=S] [--to=S] [--cap=US] [--buckets]
 *
 * --from/--to: only samples in that window (seconds since the profile began; --buckets prints the
 * busy milliseconds of each second, to find the load's window after start-up). --cap=US: count a
 * sample for at most US microseconds. On a loaded machine the process is sometimes descheduled
 * between two samples and the whole gap lands on one sample's function (a 150 ms `utf8Slice`):
 * capping at 1–2 ms (the sampling interval is 1 ms) keeps those gaps out of the figures.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: npx tsx bench/profile-summary.ts FILE [--top=40] [--from=S] [--to=S] [--cap=US] [--buckets]');
const opt = new Map(args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=', 2) as [string, string | undefined]));
const num = (name: string, fallback: number) => (opt.has(name) ? Number(opt.get(name)) : fallback);
const top = num('top', 40);
const from = num('from', 0);
const to = num('to', Number.POSITIVE_INFINITY);
const cap = num('cap', Number.POSITIVE_INFINITY);

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const isIdle = (n: ProfileNode) => n.callFrame.functionName === '(idle)';

// Self time per node within the window; busy time per second of the whole profile.
const self = new Map<number, number>();
const buckets: number[] = [];
let t = profile.startTime;
for (const [i, id] of profile.samples.entries()) {
  const delta = Math.min(profile.timeDeltas[i] ?? 0, cap);
  t += profile.timeDeltas[i] ?? 0;
  const s = (t - profile.startTime) / 1e6;
  const node = byId.get(id)!;
  if (!isIdle(node)) buckets[Math.floor(s)] = (buckets[Math.floor(s)] ?? 0) + delta;
  if (s >= from && s <= to && !isIdle(node)) self.set(id, (self.get(id) ?? 0) + delta);
}
const busy = [...self.values()].reduce((a, b) => a + b, 0);

const HERALD_SRC = /\/src\/(?!.*node_modules)/;
function packageOf(n: ProfileNode): string {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName || '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  const src = url.split('/src/');
  return src.length > 1 ? `herald:${src.at(-1)}` : url;
}
const where = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/src\//, 'src/')}:${n.callFrame.lineNumber + 1}`;

function table(title: string, rows: Map<string, number>): void {
  console.log(`--- ${title}`);
  for (const [key, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}`);
  }
}
function sum(key: (n: ProfileNode) => string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const [id, us] of self) {
    const k = key(byId.get(id)!);
    rows.set(k, (rows.get(k) ?? 0) + us);
  }
  return rows;
}

if (opt.has('buckets')) console.log(`busy ms per second: ${buckets.map((us, s) => `${s}:${((us ?? 0) / 1000).toFixed(0)}`).join(' ')}`);
console.log(`busy ${(busy / 1000).toFixed(0)} ms in the window${Number.isFinite(cap) ? ` (samples capped at ${cap} µs)` : ''}`);
table('by package (Herald: by file)', sum(packageOf));
table('by function, self time', sum(where));
// Inclusive: every Herald function on a sample's stack, once per sample (synchronous stacks only:
// time after an await is counted under the function that resumed, not its async caller).
const inclusive = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    if (!HERALD_SRC.test(n.callFrame.url)) continue;
    const k = where(n);
    if (!seen.has(k)) {
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
}
table("Herald's functions, inclusive", inclusive);
