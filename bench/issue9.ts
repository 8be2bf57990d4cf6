/**
 * Issue 9 in one command: every stage of its goal, each beside the shared baselines in the same
 * run, then one table with every ratio of the goal, whether it is met, and each stage's load
 * averages. Each stage runs as its own script (its lines are shown as they come):
 *   accept, deliver, webhook   bench/throughput.ts --only=...   (unchanged)
 *   reads                      bench/reads.ts
 *   latency                    bench/latency.ts
 *   fanout                     bench/fanout.ts (BENCH_USERS, BENCH_RUNS): fan-out, socket memory, connect rate, 10,000 sockets' RSS
 *   scaleout                   bench/scaleout.ts
 *
 *   npm run bench:issue9 -- [--only=accept,deliver,webhook,reads,latency,fanout,scaleout] [--runs=3] [--fanout-users=1000,5000,10000] [--fanout-runs=N]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BASELINES, intFlag, loadavg, parseFlags, ROOT } from './kit.ts';

const STAGES = ['accept', 'deliver', 'webhook', 'reads', 'latency', 'fanout', 'scaleout'] as const;
type Stage = (typeof STAGES)[number];
const USAGE = `npm run bench:issue9 -- [--only=${STAGES.join(',')}] [--runs=3] [--fanout-users=1000,5000,10000] [--fanout-runs=N]`;
const flags = parseFlags(['only', 'runs', 'fanout-users', 'fanout-runs'], USAGE);
const RUNS = intFlag(flags, 'runs', 3, 1, 9);
const FANOUT_RUNS = intFlag(flags, 'fanout-runs', RUNS, 1, 9);
const FANOUT_USERS = (flags.get('fanout-users') ?? '1000,5000,10000').split(',').map((n) => {
  if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 50_000) throw new Error(`--fanout-users: sizes from 1 to 50000\n${USAGE}`);
  return Number(n);
});
const ONLY = (flags.get('only') ?? STAGES.join(',')).split(',').map((s) => {
  if (!(STAGES as readonly string[]).includes(s)) throw new Error(`--only: one or more of ${STAGES.join(', ')}\n${USAGE}`);
  return s as Stage;
});

/** Runs one stage's script, echoing its output; answers its lines. */
async function stage(name: string, args: string[], env: Record<string, string> = {}): Promise<{ lines: string[]; code: number | null; seconds: number }> {
  console.log(`\n=== ${name}: ${args.join(' ')} ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} (load average ${loadavg()})`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    lines.push(line);
    if (!line.startsWith('RESULT ')) console.log(`  ${line}`);
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
  const seconds = (Date.now() - started) / 1000;
  console.log(`=== ${name}: exit ${code} after ${seconds.toFixed(0)} s`);
  return { lines, code, seconds };
}

const result = (lines: string[]) => {
  const line = lines.findLast((l) => l.startsWith('RESULT '));
  return line ? (JSON.parse(line.slice('RESULT '.length)) as Record<string, any>) : undefined;
};
/** The numbers of throughput.ts's summary row `label  herald  baseline  ratio`. */
const throughputRow = (lines: string[], label: string) => {
  const line = lines.find((l) => l.trimStart().startsWith(label));
  const numbers = line?.slice(line.indexOf(label) + label.length).trim().split(/\s+/).map(Number);
  return numbers ? { herald: numbers[0]!, baseline: numbers[1]!, ratio: numbers[2]! } : undefined;
};
const runLoads = (lines: string[]) => lines.flatMap((l) => /^run \d+: load (.+?) \|/.exec(l)?.[1] ?? []);

interface Row {
  goal: string;
  figure: string;
  met: boolean | null;
}
const rows: Row[] = [];
const loads: string[] = [];
const failed: string[] = [];
const fixed = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const met = (v: number | undefined, ok: (v: number) => boolean) => (v === undefined || !Number.isFinite(v) ? null : ok(v));

console.log(`issue 9 bench: stages ${ONLY.join(', ')}; ${RUNS} runs each (fan-out ${FANOUT_RUNS} at N=${FANOUT_USERS.join(', ')}); load average ${loadavg()}`);
const started = Date.now();

const throughputStages = ONLY.filter((s) => s === 'accept' || s === 'deliver' || s === 'webhook');
if (throughputStages.length) {
  // throughput.ts looks for the baselines beside the checkout; a worktree's are found by kit.ts.
  const out = await stage(throughputStages.join('+'), ['bench/throughput.ts', `--runs=${RUNS}`, `--only=${throughputStages.join(',')}`], { HERALD_BASELINES: BASELINES });
  if (out.code !== 0) failed.push(`throughput exit ${out.code}`);
  loads.push(`${throughputStages.join('+')}: ${runLoads(out.lines).join('; ')}`);
  const r = (label: string) => throughputRow(out.lines, label);
  if (ONLY.includes('accept')) {
    for (const c of [8, 16]) {
      const row = r(`accept msg/s c=${c} (workers in)`);
      rows.push({ goal: `accept c=${c}, workers in the process >= 0.30x`, figure: `${fixed(row?.ratio, 3)}x (${fixed(row?.herald, 0)} vs ${fixed(row?.baseline, 0)} msg/s)`, met: met(row?.ratio, (v) => v >= 0.3) });
    }
    const p99 = Number(/accept p99 ms c=8\s+(\d+)/.exec(out.lines.join('\n'))?.[1]);
    rows.push({ goal: 'accept p99 at c=8 < 100 ms', figure: `${fixed(p99, 0)} ms`, met: met(p99, (v) => v < 100) });
  }
  if (ONLY.includes('deliver')) {
    for (const [label, what] of [['in-app deliveries/s, workers alone', 'worker alone'], ['in-app deliveries/s, in the server', 'in the server']] as const) {
      const row = r(label);
      rows.push({ goal: `in-app deliveries, ${what} >= 2x`, figure: `${fixed(row?.ratio)}x (${fixed(row?.herald, 0)} vs ${fixed(row?.baseline, 0)}/s)`, met: met(row?.ratio, (v) => v >= 2) });
    }
  }
  if (ONLY.includes('webhook')) {
    const row = r('webhook deliveries/s, workers alone');
    rows.push({ goal: 'webhook deliveries >= 1x', figure: `${fixed(row?.ratio)}x (${fixed(row?.herald, 0)} vs ${fixed(row?.baseline, 0)}/s)`, met: met(row?.ratio, (v) => v >= 1) });
  }
}

if (ONLY.includes('fanout')) {
  const out = await stage('fanout', ['bench/fanout.ts'], { BENCH_USERS: FANOUT_USERS.join(','), BENCH_RUNS: String(FANOUT_RUNS) });
  if (out.code !== 0) failed.push(`fanout exit ${out.code}`);
  loads.push(`fanout: ${out.lines.flatMap((l) => /^(N=\d+ run \d+ \w+):.*load (.+)$/.exec(l)?.slice(1, 3).join(' ') ?? []).join('; ')}`);
  for (const n of FANOUT_USERS) {
    const ratios = out.lines.find((l) => l.startsWith(`N=${n} ratios`));
    const herald = out.lines.find((l) => l.startsWith(`N=${n} median herald`));
    const base = out.lines.find((l) => l.startsWith(`N=${n} median baseline`));
    const num = (line: string | undefined, re: RegExp) => Number(line && re.exec(line)?.[1]);
    const last = num(ratios, /last event ([\d.]+)x/);
    rows.push({
      goal: `fan-out N=${n}: last event <= 3x bare${n === 10_000 ? '' : ' (goal at 10,000)'}`,
      figure: `${fixed(last)}x (${fixed(num(herald, /last (\d+) ms/), 0)} vs ${fixed(num(base, /last (\d+) ms/), 0)} ms)`,
      met: n === 10_000 ? met(last, (v) => v <= 3) : null,
    });
    const memory = num(ratios, /memory per socket ([\d.]+)x/);
    rows.push({ goal: `N=${n}: idle subscriber memory <= 1.5x`, figure: `${fixed(memory)}x (${fixed(num(herald, /([\d.]+) KB\/socket/), 1)} vs ${fixed(num(base, /([\d.]+) KB\/socket/), 1)} KB)`, met: met(memory, (v) => v <= 1.5) });
    const connect = num(ratios, /connect rate ([\d.]+)x/);
    rows.push({ goal: `N=${n}: connect + subscribe >= 0.5x`, figure: `${fixed(connect)}x (${fixed(num(herald, /(\d+) connects\/s/), 0)} vs ${fixed(num(base, /(\d+) connects\/s/), 0)}/s)`, met: met(connect, (v) => v >= 0.5) });
    if (n === 10_000) rows.push({ goal: '10,000 sockets on one instance, RSS reported', figure: `${fixed(num(herald, /RSS (\d+) MB/), 0)} MB RSS (bare ${fixed(num(base, /RSS (\d+) MB/), 0)} MB)`, met: herald ? true : false });
  }
}

if (ONLY.includes('latency')) {
  const out = await stage('latency', ['bench/latency.ts', `--runs=${RUNS}`]);
  const r = result(out.lines);
  if (out.code !== 0 || !r) failed.push(`latency exit ${out.code}`);
  loads.push(`latency: ${r?.loads?.join('; ') ?? 'no result'}`);
  rows.push({ goal: 'REST send -> widget event, 1,000 others connected: p50 <= 10 ms', figure: `${fixed(r?.p50, 1)} ms (bare publish -> event ${fixed(r?.baseP50, 1)} ms)`, met: met(r?.p50, (v) => v <= 10) });
  rows.push({ goal: '... p99 <= 50 ms', figure: `${fixed(r?.p99, 1)} ms (bare ${fixed(r?.baseP99, 1)} ms)`, met: met(r?.p99, (v) => v <= 50) });
}

if (ONLY.includes('reads')) {
  const out = await stage('reads', ['bench/reads.ts', `--runs=${RUNS}`]);
  const r = result(out.lines);
  if (out.code !== 0 || !r) failed.push(`reads exit ${out.code}`);
  loads.push(`reads: ${r?.loads?.join('; ') ?? 'no result'}`);
  for (const [k, label] of [['users', 'users(first: 20), operator key'], ['inbox', 'inbox(first: 20), widget auth']] as const) {
    rows.push({
      goal: `${label}, c=8 >= 0.5x yoga { hello }`,
      figure: `${fixed(r?.[`${k}Ratio`])}x (${fixed(r?.[k], 0)} vs ${fixed(r?.hello, 0)} req/s; server CPU ${fixed(r?.[`${k}CpuMs`])} vs ${fixed(r?.helloCpuMs)} ms/request)`,
      met: met(r?.[`${k}Ratio`], (v) => v >= 0.5),
    });
  }
  rows.push({ goal: "(Herald's own { __typename }, for reference)", figure: `${fixed(r?.typenameRatio)}x (${fixed(r?.typename, 0)} req/s, ${fixed(r?.typenameCpuMs)} ms/request)`, met: null });
}

if (ONLY.includes('scaleout')) {
  const out = await stage('scaleout', ['bench/scaleout.ts', `--runs=${RUNS}`]);
  const r = result(out.lines);
  if (out.code !== 0 || !r) failed.push(`scaleout exit ${out.code}`);
  loads.push(`scaleout: ${r?.loads?.join('; ') ?? 'no result'}`);
  rows.push({
    goal: 'scale-out (2 cores): CPU split, API + herald worker vs one instance',
    figure:
      `one ${fixed(r?.oneDelivered, 0)} msg/s delivered at ${fixed(r?.oneCpu, 0)}% of a core; API ${fixed(r?.apiCpu, 0)}% + worker ${fixed(r?.workerCpu, 0)}%, ${fixed(r?.splitDelivered, 0)} msg/s ` +
      `(${fixed(r?.deliveredRatio)}x); machine ${fixed(r?.machineOne, 0)}% / ${fixed(r?.machineSplit, 0)}% busy`,
    met: null,
  });
}

console.log(`\nissue 9 goals, medians of ${RUNS} runs (${((Date.now() - started) / 60_000).toFixed(1)} min; load average now ${loadavg()}):`);
const width = Math.max(...rows.map((r) => r.goal.length));
for (const row of rows) console.log(`  ${row.goal.padEnd(width)}  ${row.met === null ? '    ' : row.met ? 'met ' : 'NOT '}  ${row.figure}`);
console.log('load averages (1, 5, 15 min) per stage and run:');
for (const line of loads) console.log(`  ${line}`);
for (const failure of failed) console.log(`FAILED ${failure}`);
process.exit(failed.length ? 1 : 0);
