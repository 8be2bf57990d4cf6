/**
 * Workflows beside plain sends, in the same run and the same process (API + workers in-process, as
 * the default server runs): first BENCH_TRIGGERS plain in-app messages (messages.send, 50 per
 * request, BENCH_CONCURRENCY requests at a time) until every one is DELIVERED; then the same number
 * of triggers of a notification whose workflow is DIGEST { key: data.group, maxEvents } → CHANNEL
 * IN_APP, into BENCH_DIGESTS digests (users x groups, BENCH_TRIGGERS / BENCH_DIGESTS events each,
 * maxEvents equal to that so each digest closes as soon as it is full, not at the end of a window).
 *
 *   npm run bench:workflows                    # BENCH_TRIGGERS=10000 BENCH_DIGESTS=1000 BENCH_CONCURRENCY=4
 *
 * Prints: plain messages/s (accept to last delivery); workflow steps/s (every DIGEST join, digest
 * close and CHANNEL step, from the first trigger to the last digest's delivery); digest close
 * latency (closedAt - the moment the digest became due) and delivery latency (its in-app message
 * DELIVERED - due), p50/p95/max; and the load average. Checks the counts: exactly one digest per
 * (user, group) with the full count and one message each, or the run fails.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { prisma } from '../src/db/client.ts';
import { bearer, startTestHerald } from '../test/helpers/herald.ts';
import { intEnv, percentile } from './stats.ts';

const TRIGGERS = intEnv('BENCH_TRIGGERS', 10_000, 50, 1_000_000);
const DIGESTS = intEnv('BENCH_DIGESTS', 1_000, 1, TRIGGERS);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 4, 1, 64);
const GROUPS = 10;
const USERS = Math.ceil(DIGESTS / GROUPS);
const PER_DIGEST = Math.floor(TRIGGERS / DIGESTS);
if (PER_DIGEST * DIGESTS !== TRIGGERS || USERS * GROUPS !== DIGESTS) throw new Error('BENCH_TRIGGERS must be a multiple of BENCH_DIGESTS, itself a multiple of 10');

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const h = await startTestHerald({ env: { RECONCILE_INTERVAL_MS: '2000' } });
const auth = bearer(h.project.apiKey);

async function post(path: string, body: unknown) {
  const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
  const json = (await res.json()) as { results?: { ok: boolean; error?: string }[]; errors?: unknown[] };
  if (!res.ok || json.errors || json.results?.some((r) => !r.ok)) throw new Error(`${path}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}
async function createNotification(key: string, workflow?: unknown[]) {
  await post('/graphql', {
    query: 'mutation($input: NotificationInput!) { createNotification(input: $input) { id } }',
    variables: { input: { key, type: 'in-app', name: key, ...(workflow ? { workflow } : {}), versions: [{ contents: [{ locale: 'en', title: '{{ digest.count }} in {{ data.group }}', body: 'b' }] }] } },
  });
  return (await prisma().notification.findFirstOrThrow({ where: { key } })).id;
}
/** All items, 50 per request, CONCURRENCY at a time. */
async function sendAll(items: Record<string, unknown>[]) {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 50) batches.push(items.slice(i, i + 50));
  const lane = async () => {
    for (let b = batches.shift(); b; b = batches.shift()) await post('/messages.send', { messages: b });
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  const plainId = await createNotification('plain');
  const digestId = await createNotification('digest', [
    { kind: 'DIGEST', key: '{{ data.group }}', windowSeconds: 3600, maxEvents: PER_DIGEST },
    { kind: 'CHANNEL', channel: 'IN_APP' },
  ]);
  // The users exist before either phase, so neither pays for creating them.
  await sendAll(Array.from({ length: USERS }, (_, u) => ({ notificationId: 'plain', userId: `u${u}`, data: { group: 'warm' } })));
  await until(async () => (await prisma().message.count({ where: { notificationId: plainId, status: 'DELIVERED' } })) === USERS, 'warm-up');

  console.log(`bench:workflows  ${TRIGGERS} plain messages vs ${TRIGGERS} triggers into ${DIGESTS} digests (${USERS} users x ${GROUPS} groups, ${PER_DIGEST} events each), c=${CONCURRENCY}`);
  console.log(`load before: ${load()}`);

  // ---- plain sends
  const plainItems = Array.from({ length: TRIGGERS }, (_, i) => ({ notificationId: 'plain', userId: `u${i % USERS}`, data: { group: 'p' } }));
  const p0 = performance.now();
  await sendAll(plainItems);
  const pAccepted = performance.now();
  await until(async () => (await prisma().message.count({ where: { notificationId: plainId, status: 'DELIVERED' } })) === USERS + TRIGGERS, 'plain delivered');
  const pDone = performance.now();
  console.log(`plain:    accepted ${(TRIGGERS / ((pAccepted - p0) / 1000)).toFixed(0)} msg/s, delivered ${(TRIGGERS / ((pDone - p0) / 1000)).toFixed(0)} msg/s (${((pDone - p0) / 1000).toFixed(1)} s)   load ${load()}`);

  // ---- workflow triggers: event e of digest (user, group), interleaved so digests fill together
  const items: Record<string, unknown>[] = [];
  for (let e = 0; e < PER_DIGEST; e++) for (let u = 0; u < USERS; u++) for (let g = 0; g < GROUPS; g++) items.push({ notificationId: 'digest', userId: `u${u}`, data: { group: `g${g}`, e } });
  const w0 = performance.now();
  const wallStart = new Date();
  await sendAll(items);
  const wAccepted = performance.now();
  await until(async () => (await prisma().workflowStepState.count({ where: { run: { notificationId: digestId }, index: 0 } })) === TRIGGERS, 'digest joins');
  const wJoined = performance.now();
  await until(async () => (await prisma().message.count({ where: { notificationId: digestId, status: 'DELIVERED' } })) === DIGESTS, 'digest deliveries');
  const wDone = performance.now();

  const digests = await prisma().workflowDigest.findMany({ where: { notificationId: digestId } });
  const messages = await prisma().message.findMany({ where: { notificationId: digestId }, select: { data: true, userId: true, deliveredAt: true } });
  const bad = digests.filter((d) => d.count !== PER_DIGEST || d.closedAt === null);
  if (digests.length !== DIGESTS || bad.length || messages.length !== DIGESTS) throw new Error(`counts: ${digests.length} digests (${bad.length} wrong), ${messages.length} messages`);
  const steps = TRIGGERS + DIGESTS /* closes */ + DIGESTS; /* CHANNEL steps */
  const closeLatency = digests.map((d) => d.closedAt!.getTime() - d.closeAt.getTime()).sort((a, b) => a - b);
  const deliveredAt = new Map(messages.map((m) => [`${m.userId}/${(m.data as { digest?: { key: string } }).digest?.key}`, m.deliveredAt!.getTime()]));
  const deliveryLatency = digests.map((d) => (deliveredAt.get(`${d.userId}/${d.key}`) ?? Number.NaN) - d.closeAt.getTime()).sort((a, b) => a - b);
  const fmt = (xs: number[]) => `p50 ${percentile(xs, 50)} ms, p95 ${percentile(xs, 95)} ms, max ${xs.at(-1)} ms`;
  console.log(
    `workflow: accepted ${(TRIGGERS / ((wAccepted - w0) / 1000)).toFixed(0)} triggers/s; joins ${(TRIGGERS / ((wJoined - w0) / 1000)).toFixed(0)} steps/s; all ${steps} steps ${(steps / ((wDone - w0) / 1000)).toFixed(0)} steps/s (${((wDone - w0) / 1000).toFixed(1)} s)   load ${load()}`,
  );
  console.log(`digest close latency (closedAt - due): ${fmt(closeLatency)}`);
  console.log(`digest delivery latency (in-app DELIVERED - due): ${fmt(deliveryLatency)}`);
  console.log(`ratio: workflow steps/s ÷ plain delivered msg/s = ${(steps / ((wDone - w0) / 1000) / (TRIGGERS / ((pDone - p0) / 1000))).toFixed(2)}   (started ${wallStart.toISOString()})`);
} finally {
  await h.stop();
}
