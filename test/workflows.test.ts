import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import type { WorkflowEngine } from '../src/modules/workflows/engine.ts';
import { setClock } from '../src/modules/workflows/clock.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

// Workflows through the real pipeline (PostgreSQL, Redis, BullMQ): each step kind, conditions on
// an earlier step's read state, digests under concurrency, throttle, cancel, the NP6 and Neucron
// entry points, and two instances. Time moves with the engine's clock seam, never by sleeping.

let h: TestHerald;
let now = Date.parse('2026-06-01T10:00:00Z');
const engine = () => h.herald.delivery.workflows as WorkflowEngine;

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const res = await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(h.project.apiKey));
  return res.body as { data?: Record<string, any>; errors?: { message: string; extensions: { code: string; issues?: { field: string }[] } }[] };
}
async function ok(query: string, variables: Record<string, unknown> = {}) {
  const body = await gql(query, variables);
  expect(body.errors).toBeUndefined();
  return body.data!;
}

let seq = 0;
async function notification(workflow: unknown[], channels = ['IN_APP', 'EMAIL'], body = 'B {{ n }}') {
  const key = `wf-${++seq}`;
  const data = await ok('mutation($input: NotificationInput!) { createNotification(input: $input) { id workflow { kind channel } } }', {
    input: { key, type: 'multichannel', name: key, channels, workflow, versions: [{ contents: [{ locale: 'en', title: 'T {{ n }}', body, email: { subject: 'S {{ n }}', text: body } }] }] },
  });
  return { key, id: data.createNotification.id as number };
}
async function send(messages: Record<string, unknown>[]) {
  const res = await rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  expect(res.status).toBe(200);
  return res.body.results as { id: string | null; ok: boolean; error?: string }[];
}
const runsOf = (notificationId: number) => prisma().workflowRun.findMany({ where: { notificationId }, orderBy: { id: 'asc' } });
const messagesOf = (notificationId: number) => prisma().message.findMany({ where: { notificationId }, orderBy: { id: 'asc' } });
async function settled(notificationId: number, count: number) {
  return pollFor(async () => {
    const runs = await runsOf(notificationId);
    return runs.length === count && runs.every((r) => r.status !== 'RUNNING' && !(r.status === 'WAITING' && r.dueAt! <= new Date(now))) ? runs : null;
  }, 10_000, 'runs settled');
}
/** Moves the engine's clock and runs the sweep (what the timer jobs or the reconciler do at that time). */
async function advance(seconds: number) {
  now += seconds * 1000;
  await engine().sweep();
}

beforeAll(async () => {
  setClock(() => now);
  h = await startTestHerald({ env: { RECONCILE_INTERVAL_MS: '60000', DELIVERY_LEASE_MS: '2000' } });
});
afterAll(async () => {
  setClock(null);
  await h?.stop();
});

describe('workflow validation', () => {
  it('refuses an unknown channel, bad JSON Logic and a Liquid key that does not parse, naming the step', async () => {
    const body = await gql('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
      input: {
        key: 'bad-wf',
        type: 'multichannel',
        name: 'bad',
        channels: ['IN_APP'],
        versions: [{ contents: [{ locale: 'en', title: 't', body: 'b' }] }],
        workflow: [
          { kind: 'CHANNEL', channel: 'SMS' },
          { kind: 'CHANNEL', channel: 'IN_APP', condition: { nope: [1, 2] } },
          { kind: 'DIGEST', key: '{{ data.x ', windowSeconds: 60 },
          { kind: 'DELAY' },
        ],
      },
    });
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const fields = body.errors![0]!.extensions.issues!.map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['workflow.0.channel', 'workflow.1.condition', 'workflow.2.key', 'workflow.3.seconds']));
    expect(await prisma().notification.count({ where: { key: 'bad-wf' } })).toBe(0);
  });

  it('a notification without a workflow sends every channel at once, as before', async () => {
    const key = `plain-${++seq}`;
    const d = await ok('mutation($input: NotificationInput!) { createNotification(input: $input) { id workflow { kind } } }', {
      input: { key, type: 'in-app', name: key, versions: [{ contents: [{ locale: 'en', title: 't', body: 'b' }] }] },
    });
    expect(d.createNotification.workflow).toBeNull();
    const id = d.createNotification.id as number;
    const [r] = await send([{ notificationId: key, userId: 'plain-user', data: { n: 1 } }]);
    expect(r!.ok).toBe(true);
    expect(await prisma().workflowRun.count({ where: { notificationId: id } })).toBe(0);
    expect((await messagesOf(id)).length).toBe(1);
    // An empty list is refused: null or absent is "no workflow".
    const empty = await gql('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
      input: { key: `${key}-e`, type: 'in-app', name: 'e', workflow: [], versions: [{ contents: [{ locale: 'en', title: 't', body: 'b' }] }] },
    });
    expect(empty.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a legacy NP6 PUT (which cannot carry a workflow) keeps it; a channel it needs cannot be dropped; workflow: null removes it', async () => {
    const wf = [{ kind: 'CHANNEL', channel: 'IN_APP' }, { kind: 'DELAY', seconds: 60 }, { kind: 'CHANNEL', channel: 'EMAIL' }];
    const { id } = await notification(wf);
    const np6 = (method: string, body?: unknown) => rest(h.url, method, `/notifications/${id}`, body, { 'x-key': h.project.apiKey });
    const stepsOf = async () => (await ok('query($id: Int) { notification(id: $id) { workflow { kind channel } } }', { id })).notification.workflow as { kind: string }[] | null;
    const got = await np6('GET');
    expect(got.status).toBe(200);
    const put = await np6('PUT', { ...got.body, name: 'renamed by NP6' });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((await stepsOf())?.map((s) => s.kind)).toEqual(['CHANNEL', 'DELAY', 'CHANNEL']);
    expect((await prisma().notification.findUniqueOrThrow({ where: { id } })).name).toBe('renamed by NP6');
    // Dropping EMAIL would leave the kept workflow a step it cannot run: refused, naming it, nothing written.
    const narrowed = await np6('PUT', { ...got.body, channels: ['IN_APP'], name: 'narrowed' });
    expect(narrowed.status).toBe(400);
    expect(narrowed.body.issues).toEqual([{ field: 'workflow[2].channel', message: expect.stringContaining('EMAIL is not one') }]);

    expect((await prisma().notification.findUniqueOrThrow({ where: { id } })).name).toBe('renamed by NP6');
    // A client that names it decides: null removes it.
    await ok('mutation($id: Int!, $input: NotificationInput!) { updateNotification(id: $id, input: $input) { id } }', {
      id,
      input: { type: 'multichannel', name: 'no workflow', channels: ['IN_APP', 'EMAIL'], workflow: null },
    });
    expect(await stepsOf()).toBeNull();
  });
});

describe('workflow storage', () => {
  it("digest and throttle rows belong to a project and a user: none without them, and they go when either is deleted", async () => {
    const other = await h.newProject('Deleted with its digests');
    const userOf = async () => (await prisma().user.create({ data: { projectId: other.projectId, externalId: randomUUID() } })).id;
    const row = (projectId: string, userId: string, key = 'k') => ({ projectId, notificationId: 1, userId, key, windowStart: new Date(), count: 1 });
    const digest = (projectId: string, userId: string) => ({
      id: randomUUID(), projectId, notificationId: 1, userId, key: 'k', openKey: 'k', stepIndex: 0, mode: 'FIXED' as const, runId: randomUUID(), firstAt: new Date(), lastAt: new Date(), closeAt: new Date(),
    });
    const [kept, leaving] = [await userOf(), await userOf()];
    for (const userId of [kept, leaving]) {
      await prisma().workflowThrottle.create({ data: row(other.projectId, userId) });
      await prisma().workflowDigest.create({ data: digest(other.projectId, userId) });
    }
    await expect(prisma().workflowThrottle.create({ data: row(randomUUID(), kept, 'k2') })).rejects.toThrow(/foreign key/i);
    await expect(prisma().workflowDigest.create({ data: digest(randomUUID(), kept) })).rejects.toThrow(/foreign key/i);
    await expect(prisma().workflowThrottle.create({ data: row(other.projectId, randomUUID()) })).rejects.toThrow(/foreign key/i);
    await expect(prisma().workflowDigest.create({ data: digest(other.projectId, randomUUID()) })).rejects.toThrow(/foreign key/i);
    await prisma().user.delete({ where: { id: leaving } });
    expect(await prisma().workflowThrottle.findMany({ where: { projectId: other.projectId }, select: { userId: true } })).toEqual([{ userId: kept }]);
    expect(await prisma().workflowDigest.findMany({ where: { projectId: other.projectId }, select: { userId: true } })).toEqual([{ userId: kept }]);
    await prisma().project.delete({ where: { id: other.projectId } });
    expect(await prisma().workflowThrottle.count({ where: { projectId: other.projectId } })).toBe(0);
    expect(await prisma().workflowDigest.count({ where: { projectId: other.projectId } })).toBe(0);
  });
});

describe('workflow steps', () => {
  it('in-app, then email only if the in-app item is still unread after an hour', async () => {
    const wf = [
      { kind: 'CHANNEL', channel: 'IN_APP' },
      { kind: 'DELAY', seconds: 3600 },
      { kind: 'CHANNEL', channel: 'EMAIL', condition: { '==': [{ var: 'steps.0.readAt' }, null] } },
    ];
    const { id, key } = await notification(wf);
    const results = await send([
      { notificationId: key, userId: 'reader', userEmail: 'reader@example.com', id: 'tx-read', data: { n: 1 } },
      { notificationId: key, userId: 'ignorer', userEmail: 'ignorer@example.com', id: 'tx-ignore', data: { n: 2 } },
    ]);
    expect(results.map((r) => [r.ok, r.id])).toEqual([[true, 'tx-read'], [true, 'tx-ignore']]);
    // Both wait at the DELAY, having delivered their in-app item.
    await pollFor(async () => (await runsOf(id)).every((r) => r.status === 'WAITING' && r.cursor === 1), 10_000, 'waiting at the delay');
    await pollFor(async () => (await prisma().inboxItem.count({ where: { notificationId: id } })) === 2, 10_000, 'in-app delivered');
    const reader = await prisma().user.findFirstOrThrow({ where: { externalId: 'reader' } });
    await prisma().inboxItem.updateMany({ where: { notificationId: id, userId: reader.id }, data: { readAt: new Date() } });

    await advance(3599);
    expect((await runsOf(id)).every((r) => r.status === 'WAITING')).toBe(true);
    await advance(1);
    const runs = await settled(id, 2);
    expect(runs.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
    const messages = await messagesOf(id);
    // reader: in-app only; ignorer: in-app + email.
    expect(messages.filter((m) => m.userId === reader.id).map((m) => m.channel)).toEqual(['IN_APP']);
    expect(messages.filter((m) => m.userId !== reader.id).map((m) => m.channel)).toEqual(['IN_APP', 'EMAIL']);

    const view = await ok('query($id: ID!) { workflowRun(id: $id) { status transactionId steps { index kind status reason resumeAt messages { id status } } } }', { id: runs[0]!.id });
    expect(view.workflowRun.steps.map((s: { status: string }) => s.status)).toEqual(['DONE', 'DONE', 'SKIPPED']);
    expect(view.workflowRun.steps[2].reason).toMatch(/condition/);
    expect(view.workflowRun.steps[0].messages).toHaveLength(1);
    const list = await ok('query($f: WorkflowRunFilter) { workflowRuns(filter: $f) { totalCount edges { node { id transactionId } } } }', { f: { transactionId: 'tx-ignore' } });
    expect(list.workflowRuns.totalCount).toBe(1);
    expect(list.workflowRuns.edges[0].node.id).toBe(runs[1]!.id);
  });

  it('DELAY until a time from the data, minus an offset; a value that is not a time does not wait', async () => {
    const { id, key } = await notification([{ kind: 'DELAY', until: '{{ data.appointmentAt }}', offsetSeconds: -1800 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP']);
    const at = new Date(now + 2 * 3600_000).toISOString();
    await send([
      { notificationId: key, userId: 'appt', data: { n: 1, appointmentAt: at } },
      { notificationId: key, userId: 'appt-bad', data: { n: 2, appointmentAt: 'tomorrow-ish' } },
    ]);
    await pollFor(async () => (await runsOf(id)).some((r) => r.status === 'WAITING' && r.dueAt && r.dueAt.getTime() > now), 10_000, 'delay');
    const waiting = (await runsOf(id)).find((r) => r.status === 'WAITING' && r.dueAt!.getTime() > now)!;
    expect(waiting.dueAt!.toISOString()).toBe(new Date(Date.parse(at) - 1800_000).toISOString());
    await pollFor(async () => (await runsOf(id)).some((r) => r.status === 'COMPLETED'), 10_000, 'bad until completes');
    const states = await prisma().workflowStepState.findMany({ where: { run: { notificationId: id }, status: 'SKIPPED' } });
    expect(states[0]!.reason).toMatch(/not a time/);
    await advance(90 * 60);
    expect((await settled(id, 2)).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it('THROTTLE lets `limit` runs pass per window and key; the rest end THROTTLED, recorded', async () => {
    const { id, key } = await notification([{ kind: 'THROTTLE', key: '{{ data.topic }}', limit: 2, windowSeconds: 600 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP']);
    await send(Array.from({ length: 5 }, (_, i) => ({ notificationId: key, userId: 'throttled', data: { n: i, topic: 'a' } })));
    await send([{ notificationId: key, userId: 'throttled', data: { n: 9, topic: 'b' } }]);
    const runs = await settled(id, 6);
    const byStatus = (s: string) => runs.filter((r) => r.status === s).length;
    expect([byStatus('COMPLETED'), byStatus('THROTTLED')]).toEqual([3, 3]);
    expect((await messagesOf(id)).length).toBe(3);
    // A new window lets them through again.
    await advance(601);
    await send([{ notificationId: key, userId: 'throttled', data: { n: 10, topic: 'a' } }]);
    expect((await settled(id, 7)).filter((r) => r.status === 'COMPLETED').length).toBe(4);
    const throttled = runs.find((r) => r.status === 'THROTTLED')!;
    const view = await ok('query($id: ID!) { workflowRun(id: $id) { status steps { status reason } } }', { id: throttled.id });
    expect(view.workflowRun.steps[0]).toMatchObject({ status: 'THROTTLED' });
    expect(view.workflowRun.steps[1].status).toBe('PENDING');
  });

  it('cancelWorkflowRuns(transactionId) stops what has not happened yet; the id stays taken', async () => {
    const { id, key } = await notification([{ kind: 'DELAY', seconds: 600 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP']);
    await send([{ notificationId: key, userId: 'cancel-me', id: 'tx-cancel', data: { n: 1 } }]);
    await pollFor(async () => (await runsOf(id))[0]?.status === 'WAITING' && (await runsOf(id))[0]!.cursor === 0 && (await prisma().workflowStepState.count({ where: { run: { notificationId: id } } })) === 1, 10_000, 'waiting');
    expect((await ok('mutation { cancelWorkflowRuns(transactionId: "tx-cancel") }')).cancelWorkflowRuns).toBe(1);
    expect((await ok('mutation { cancelWorkflowRuns(transactionId: "tx-cancel") }')).cancelWorkflowRuns).toBe(0);
    await advance(601);
    expect((await runsOf(id))[0]!.status).toBe('CANCELED');
    expect((await messagesOf(id)).length).toBe(0);
    const [again] = await send([{ notificationId: key, userId: 'cancel-me', id: 'tx-cancel', data: { n: 2 } }]);
    expect(again).toMatchObject({ ok: false, error: 'id/exists' });
    const missing = await gql('query { workflowRun(id: "00000000-0000-7000-8000-000000000000") { id } }');
    expect(missing.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it('NP6 executions and Neucron sends start runs too', async () => {
    const { id } = await notification([{ kind: 'DELAY', seconds: 60 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP']);
    await send([{ notificationId: String(id), userId: 'np6-user', data: { n: 0 } }]); // creates the user
    const user = await prisma().user.findFirstOrThrow({ where: { externalId: 'np6-user' } });
    await ok('mutation($id: Int!, $e: [ExecutionInput!]!) { executeNotification(id: $id, executions: $e) { __typename } }', { id, e: [{ recipient: { type: 'id', value: user.id }, data: { n: 1 } }] });
    await ok('mutation($input: NeucronNotificationInput!) { neucronSendNotification(input: $input) { __typename } }', { input: { userIds: [user.id], notificationId: String(id), data: { n: 2 } } });
    const runs = await pollFor(async () => {
      const r = await runsOf(id);
      return r.length === 3 && r.every((x) => x.status === 'WAITING' && x.dueAt!.getTime() > now) ? r : null;
    }, 10_000, 'three runs waiting');
    expect(runs.map((r) => r.source).sort()).toEqual(['neucron', 'notifuse', 'np6']);
    await advance(60);
    expect((await settled(id, 3)).every((r) => r.status === 'COMPLETED')).toBe(true);
    const messages = await messagesOf(id);
    expect(messages.length).toBe(3);
    // The NP6 run's message still belongs to its execution.
    expect(messages.filter((m) => m.executionId !== null).length).toBe(1);
  });
});

describe('digests', () => {
  it('100 concurrent triggers for one key make exactly one digest of 100 and one delivery; another key stays apart', async () => {
    const { id, key } = await notification(
      [{ kind: 'DIGEST', key: '{{ data.thread }}', windowSeconds: 300 }, { kind: 'CHANNEL', channel: 'IN_APP' }],
      ['IN_APP'],
      '{{ digest.count }} new comments, first by {{ digest.events[0].author }}',
    );
    const batch = (thread: string, from: number) => Array.from({ length: 50 }, (_, i) => ({ notificationId: key, userId: 'digest-user', data: { n: from + i, thread, author: `a${from + i}` } }));
    await Promise.all([send(batch('t1', 0)), send(batch('t1', 50)), send(batch('t2', 100).slice(0, 3))]);
    const runs = await settled(id, 103);
    expect(runs.filter((r) => r.status === 'WAITING').length).toBe(2);
    expect(runs.filter((r) => r.status === 'MERGED').length).toBe(101);
    const digests = await prisma().workflowDigest.findMany({ where: { notificationId: id }, orderBy: { key: 'asc' } });
    expect(digests.map((d) => [d.key, d.count, (d.events as unknown[]).length])).toEqual([['t1', 100, 100], ['t2', 3, 3]]);
    // In trigger order, though the runs joined concurrently: each request's items in their order.
    const ns = (digests[0]!.events as { n: number }[]).map((e) => e.n);
    for (const part of [ns.filter((n) => n < 50), ns.filter((n) => n >= 50)]) expect(part).toEqual([...part].sort((a, b) => a - b));
    expect((await messagesOf(id)).length).toBe(0);

    await advance(300);
    await settled(id, 103);
    const messages = await messagesOf(id);
    expect(messages.length).toBe(2);
    const bodies = messages.map((m) => (m.content as { body: string }).body).sort();
    expect(bodies[0]).toMatch(/^100 new comments, first by a\d+$/);
    expect(bodies[1]).toMatch(/^3 new comments, first by a10\d$/);
    // The sweep again, and a second instance's sweep: nothing more.
    await advance(1);
    expect((await messagesOf(id)).length).toBe(2);
    // A trigger after the close opens a new digest.
    await send([{ notificationId: key, userId: 'digest-user', data: { n: 500, thread: 't1', author: 'late' } }]);
    await pollFor(async () => (await prisma().workflowDigest.count({ where: { notificationId: id } })) === 3, 10_000, 'new digest');
  });

  it('SLIDING extends with each event but closes by maxWaitSeconds; maxEvents closes at once', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', key: 'k', windowSeconds: 60, mode: 'SLIDING', maxWaitSeconds: 150 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP'], '{{ digest.count }}');
    const one = (n: number) => send([{ notificationId: key, userId: 'slider', data: { n } }]);
    await one(0);
    await settled(id, 1);
    for (let i = 1; i <= 3; i++) {
      await advance(45); // before the window's end (60 s after the last event): it slides
      await one(i);
      await settled(id, i + 1);
    }
    // t = 135 s: a FIXED window would have closed at 60 s; the sliding one would close at 195 s,
    // but maxWaitSeconds closes it 150 s after the first event.
    expect((await messagesOf(id)).length).toBe(0);
    await advance(14);
    expect((await messagesOf(id)).length).toBe(0);
    await advance(1);
    const digest = await prisma().workflowDigest.findFirstOrThrow({ where: { notificationId: id } });
    expect(digest.closeAt.getTime() - digest.firstAt.getTime()).toBe(150_000);
    await pollFor(async () => (await messagesOf(id)).length === 1, 10_000, 'closed by max wait');
    expect(((await messagesOf(id))[0]!.content as { body: string }).body).toBe('4');

    const capped = await notification([{ kind: 'DIGEST', windowSeconds: 3600, maxEvents: 3 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP'], '{{ digest.count }}');
    await send([0, 1, 2].map((n) => ({ notificationId: capped.key, userId: 'capped', data: { n } })));
    await pollFor(async () => (await messagesOf(capped.id)).length === 1, 10_000, 'closed at maxEvents');
    expect(((await messagesOf(capped.id))[0]!.content as { body: string }).body).toBe('3');
  });

  it('two DIGEST steps with the same key stay two digests: a trigger never joins a later step\'s open digest', async () => {
    const { id, key } = await notification(
      [{ kind: 'DIGEST', key: 'same', windowSeconds: 60 }, { kind: 'DIGEST', key: 'same', windowSeconds: 600 }, { kind: 'CHANNEL', channel: 'IN_APP' }],
      ['IN_APP'],
      '{{ digest.count }}',
    );
    const one = (n: number) => send([{ notificationId: key, userId: 'two-digests', data: { n } }]);
    await one(0);
    await settled(id, 1);
    await advance(61); // the first digest closes; its run waits in the second one (step 1)
    await pollFor(async () => (await prisma().workflowDigest.count({ where: { notificationId: id, stepIndex: 1 } })) === 1, 10_000, 'second digest open');
    await one(1);
    await settled(id, 2);
    const digests = await prisma().workflowDigest.findMany({ where: { notificationId: id }, orderBy: [{ stepIndex: 'asc' }, { firstAt: 'asc' }] });
    // The later trigger opened a step-0 digest of its own; the step-1 digest still holds one event.
    expect(digests.map((d) => [d.stepIndex, d.count, d.openKey])).toEqual([
      [0, 1, null],
      [0, 1, 'same'],
      [1, 1, 'same'],
    ]);
  });

  it('two instances sweeping the same due digest deliver it once', async () => {
    const { id, key } = await notification([{ kind: 'DIGEST', key: 'x', windowSeconds: 30 }, { kind: 'CHANNEL', channel: 'IN_APP' }], ['IN_APP']);
    await send(Array.from({ length: 10 }, (_, n) => ({ notificationId: key, userId: 'twice', data: { n } })));
    await settled(id, 10);
    const sibling = await h.startSibling();
    try {
      now += 31_000;
      const other = sibling.herald.delivery.workflows as WorkflowEngine;
      await Promise.all([engine().sweep(), other.sweep(), engine().runMany((await runsOf(id)).map((r) => r.id)), other.runMany((await runsOf(id)).map((r) => r.id))]);
      await pollFor(async () => (await messagesOf(id)).length >= 1, 10_000, 'delivered');
      await advance(1);
      expect((await messagesOf(id)).length).toBe(1);
      expect((await prisma().workflowDigest.findFirstOrThrow({ where: { notificationId: id } })).count).toBe(10);
    } finally {
      await sibling.herald.stop();
    }
  });
});
