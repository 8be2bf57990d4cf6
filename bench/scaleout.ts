/**
 * Scale-out (issue 9) on this machine: the same accept load (POST /messages.send, 50 in-app
 * messages per request, c=--concurrency for --duration seconds) against (one) a Herald with its
 * workers in the process, as `npm start` runs it, and (split) an API-only Herald
 * (WORKERS_ENABLED=false) beside a `herald worker` process on the same database and queues.
 * For each: accepted msg/s, in-app deliveries/s from the first request until the last delivery,
 * and the CPU each process used over that time (% of one core: a Node process near 100% is the
 * bottleneck), beside the whole machine's busy share (other sessions' work included).
 *
 *   npx tsx bench/scaleout.ts [--runs=3] [--duration=5] [--concurrency=8]
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { cpuMs, hammer, intFlag, loadavg, machineCpu, median, parseFlags, printResult, request, sleep, startHerald, startWorker, type HeraldProc, type Proc } from './kit.ts';

const USAGE = 'npx tsx bench/scaleout.ts [--runs=3] [--duration=5] [--concurrency=8]';
const flags = parseFlags(['runs', 'duration', 'concurrency'], USAGE);
const RUNS = intFlag(flags, 'runs', 3, 1, 9);
const DURATION_S = intFlag(flags, 'duration', 5, 1, 60);
const C = intFlag(flags, 'concurrency', 8, 1, 64);
const BATCH = 50;
const USERS = 1000;
const DRAIN_TIMEOUT_MS = 240_000;

interface Figures {
  accepted: number;
  delivered: number;
  /** % of one core, per process, over the first request .. the last delivery. */
  cpu: Record<string, number>;
  /** % of the whole machine (all cores) busy meanwhile. */
  machine: number;
  seconds: number;
}

async function measure(h: HeraldProc, processes: Record<string, Proc>, tag: string): Promise<Figures> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  const db = new pg.Client({ connectionString: h.info.databaseUrl });
  await db.connect();
  try {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${h.info.apiKey}` };
    // Client ids unique over the warm-up and the load (hammer numbers each load's calls from 0).
    let sent = 0;
    const send = async () => {
      const n = sent++;
      const messages = Array.from({ length: BATCH }, (_, i) => ({ notificationId: 'bench', userId: `user-${(n * BATCH + i) % USERS}`, id: `${tag}-${n}-${i}`, data: { count: n } }));
      const answer = await request(agent, `${h.info.url}/messages.send`, headers, JSON.stringify({ messages }));
      if (answer.status !== 200) return `HTTP ${answer.status} ${answer.body.slice(0, 200)}`;
      const ok = (JSON.parse(answer.body) as { results: { ok: boolean }[] }).results.filter((r) => r.ok).length;
      return ok === BATCH ? ok : `${ok}/${BATCH} accepted`;
    };
    await hammer(1, 0.5, send); // warm-up: connections, plans, scripts
    await waitDelivered(db, h.info.projectId);
    const cpu0 = Object.fromEntries(Object.entries(processes).map(([name, p]) => [name, cpuMs(p.pid)]));
    const machine0 = machineCpu();
    const t0 = performance.now();
    const load = await hammer(C, DURATION_S, send);
    if (load.failures.length) throw new Error(`${load.failures.length} failed requests, e.g. ${load.failures[0]}`);
    const { delivered } = await waitDelivered(db, h.info.projectId);
    const seconds = (performance.now() - t0) / 1000;
    const machine1 = machineCpu();
    const cpu = Object.fromEntries(Object.entries(processes).map(([name, p]) => [name, (cpuMs(p.pid) - cpu0[name]!) / (seconds * 10)]));
    return { accepted: load.perSecond, delivered: delivered / seconds, cpu, machine: (100 * (machine1.busy - machine0.busy)) / (machine1.total - machine0.total), seconds };
  } finally {
    agent.destroy();
    await db.end();
  }
}

/** Until every message of the project is terminal; answers how many were delivered in the measured load (the warm-up's excluded). */
let warmUpDelivered = 0;
async function waitDelivered(db: pg.Client, projectId: string): Promise<{ delivered: number }> {
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const { rows } = await db.query(`SELECT count(*) FILTER (WHERE status IN ('SENT','DELIVERED','FAILED','SKIPPED','CANCELED'))::int AS done, count(*)::int AS n FROM "Message" WHERE "projectId" = $1::uuid`, [projectId]);
    if (rows[0].done === rows[0].n) {
      const delivered = rows[0].done - warmUpDelivered;
      warmUpDelivered = rows[0].done;
      return { delivered };
    }
    if (performance.now() > deadline) throw new Error(`only ${rows[0].done}/${rows[0].n} delivered after ${DRAIN_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }
}

async function one(): Promise<Figures> {
  const h = await startHerald(true);
  warmUpDelivered = 0;
  try {
    return await measure(h, { herald: h }, 'one');
  } finally {
    await h.stop();
  }
}

async function split(): Promise<Figures> {
  const h = await startHerald(false);
  warmUpDelivered = 0;
  const worker = await startWorker(h).catch(async (error: unknown) => {
    await h.stop();
    throw error;
  });
  try {
    return await measure(h, { api: h, worker }, 'split');
  } finally {
    await worker.stop();
    await h.stop();
  }
}

const fmt = (f: Figures) =>
  `accepted ${f.accepted.toFixed(0)} msg/s, delivered ${f.delivered.toFixed(0)}/s over ${f.seconds.toFixed(1)} s, CPU ${Object.entries(f.cpu)
    .map(([name, pct]) => `${name} ${pct.toFixed(0)}%`)
    .join(' + ')} of a core, machine ${f.machine.toFixed(0)}% busy`;

console.log(`scale-out: ${RUNS} runs, POST /messages.send c=${C} for ${DURATION_S} s (50 in-app messages per request) until every message is delivered; one instance vs API + herald worker; load average ${loadavg()}`);
const runs: { one: Figures; split: Figures; load: string }[] = [];
for (let i = 1; i <= RUNS; i++) {
  const load0 = loadavg();
  const o = await one();
  const s = await split();
  runs.push({ one: o, split: s, load: `${load0} -> ${loadavg()}` });
  console.log(`run ${i}: load ${runs.at(-1)!.load}\n  one instance:    ${fmt(o)}\n  API + worker:    ${fmt(s)}`);
}
const med = (pick: (r: (typeof runs)[number]) => number) => median(runs.map(pick));
const result = {
  stage: 'scaleout',
  runs: RUNS,
  oneAccepted: med((r) => r.one.accepted),
  oneDelivered: med((r) => r.one.delivered),
  oneCpu: med((r) => r.one.cpu.herald!),
  splitAccepted: med((r) => r.split.accepted),
  splitDelivered: med((r) => r.split.delivered),
  apiCpu: med((r) => r.split.cpu.api!),
  workerCpu: med((r) => r.split.cpu.worker!),
  machineOne: med((r) => r.one.machine),
  machineSplit: med((r) => r.split.machine),
  deliveredRatio: med((r) => r.split.delivered / r.one.delivered),
  acceptedRatio: med((r) => r.split.accepted / r.one.accepted),
  loads: runs.map((r) => r.load),
};
console.log(
  `medians of ${RUNS} runs: one instance ${result.oneAccepted.toFixed(0)} accepted / ${result.oneDelivered.toFixed(0)} delivered msg/s at ${result.oneCpu.toFixed(0)}% of a core; ` +
    `API + worker ${result.splitAccepted.toFixed(0)} / ${result.splitDelivered.toFixed(0)} msg/s at ${result.apiCpu.toFixed(0)}% + ${result.workerCpu.toFixed(0)}% (split / one: accepted ${result.acceptedRatio.toFixed(2)}, delivered ${result.deliveredRatio.toFixed(2)}); machine ${result.machineOne.toFixed(0)}% / ${result.machineSplit.toFixed(0)}% busy`,
);
printResult(result);
process.exit(0);
