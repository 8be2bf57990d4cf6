import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { prisma } from '../src/db/client.ts';
import { bearer, gql, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

const Upsert = graphql(`
  mutation Np6DeliveryUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: OVERWRITE) {
      ok
      user {
        id
      }
    }
  }
`);
const Create = graphql(`
  mutation Np6DeliveryCreate($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Execute = graphql(`
  mutation Np6DeliveryExecute($id: Int!, $executions: [ExecutionInput!]!) {
    executeNotification(id: $id, executions: $executions) {
      type
      id
      messageIds
      error {
        code
      }
    }
  }
`);
const Test = graphql(`
  mutation Np6DeliveryTest($id: Int!, $input: NotificationTestInput) {
    testNotification(id: $id, input: $input) {
      id
      status
      messageIds
    }
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
let ada: string;
let bob: string;

beforeAll(async () => {
  h = await startTestHerald({ env: { DELIVERY_BACKOFF_MS: '50', DELIVERY_MAX_ATTEMPTS: '2', RECONCILE_INTERVAL_MS: '500', RECONCILE_STALE_MS: '2000' } });
  auth = bearer(h.project.apiKey);
  const users = await gql(
    h.url,
    Upsert,
    {
      users: [
        { externalId: 'ada', email: 'ada@example.com', firstName: 'Ada' },
        { externalId: 'bob', firstName: 'Bob' },
      ],
    },
    auth,
  );
  [ada, bob] = users.data!.upsertUsers.map((u) => u.user!.id) as [string, string];
});
afterAll(async () => {
  await h?.stop();
});

async function notification(channels: ('IN_APP' | 'EMAIL' | 'SMS')[] = ['IN_APP', 'EMAIL'], urgent = false) {
  const res = await gql(
    h.url,
    Create,
    {
      input: {
        type: 'push-app',
        name: 'Delivered',
        channels,
        settings: { urgent },
        versions: [
          {
            contents: [{ locale: 'en', title: 'Hi {{ firstName }}', body: 'Plan {{ data.plan }}', email: { subject: 'Mail for {{ firstName }}', text: 'Text' } }],
            redirection: { type: 'literal', value: 'app://version' },
          },
        ],
      },
    },
    auth,
  );
  expect(res.errors).toBeUndefined();
  return res.data!.createNotification.id;
}

const messagesOf = (ids: string[]) => prisma().message.findMany({ where: { id: { in: ids } }, orderBy: { channel: 'asc' } });

describe('NP6 executions become messages', () => {
  it('writes each success with its messages (one per channel) and delivers them; overrides are honoured', async () => {
    const id = await notification();
    const res = await gql(
      h.url,
      Execute,
      {
        id,
        executions: [
          { recipient: { type: 'id', value: 'ada' }, data: { plan: 'gold' }, urgent: true, redirection: { type: 'literal', value: 'app://override' } },
          { recipient: { type: 'id', value: 'nobody' } },
          { recipient: { type: 'id', value: 'bob' } },
        ],
      },
      { ...auth, 'x-request-id': 'np6-exec-1' },
    );
    expect(res.errors).toBeUndefined();
    const [a, b, c] = res.data!.executeNotification;
    expect(a).toMatchObject({ type: 'success', messageIds: [expect.any(String), expect.any(String)] });
    expect(b).toMatchObject({ type: 'failure', error: { code: 'contact/not-found' }, messageIds: [] });
    expect(c!.messageIds).toHaveLength(2);

    const adas = await messagesOf(a!.messageIds);
    expect(adas.map((m) => [m.channel, m.executionId, m.source, m.requestId, m.critical, m.userId])).toEqual([
      ['IN_APP', a!.id, 'np6', 'np6-exec-1', true, ada],
      ['EMAIL', a!.id, 'np6', 'np6-exec-1', true, ada],
    ]);
    expect(adas[0]!.content).toMatchObject({ title: 'Hi Ada', body: 'Plan gold', redirection: 'app://override' });
    expect(adas[1]).toMatchObject({ to: 'ada@example.com', content: { subject: 'Mail for Ada' } });
    // Bob has no email: his email message is recorded SKIPPED with the reason, not lost.
    const bobs = await messagesOf(c!.messageIds);
    expect(bobs.find((m) => m.channel === 'EMAIL')).toMatchObject({ status: 'SKIPPED', lastError: 'the user has no email address', critical: false });
    expect(bobs.find((m) => m.channel === 'IN_APP')!.content).toMatchObject({ redirection: 'app://version' });

    const inApp = adas[0]!;
    await pollFor(async () => (await prisma().message.findUnique({ where: { id: inApp.id } }))?.status === 'DELIVERED', 10_000, 'in-app delivery');
    expect(await prisma().inboxItem.findUniqueOrThrow({ where: { messageId: inApp.id } })).toMatchObject({ userId: ada, title: 'Hi Ada', redirection: 'app://override' });
    // No email provider is configured: the email ends FAILED with the reason.
    const email = await pollFor(async () => {
      const m = await prisma().message.findUnique({ where: { id: adas[1]!.id } });
      return m?.status === 'FAILED' ? m : null;
    }, 10_000, 'email failure');
    expect(email.lastError).toMatch(/no EMAIL provider is configured/);

    const executions = await prisma().execution.findMany({ where: { requestId: 'np6-exec-1' }, orderBy: { createdAt: 'asc' } });
    expect(executions.map((e) => [e.kind, e.status])).toEqual([
      ['EXECUTION', 'ACCEPTED'],
      ['EXECUTION', 'ACCEPTED'],
    ]);
  });

  it('narrows to the channel override and falls back to the notification channels for unknown ones', async () => {
    const id = await notification(['IN_APP', 'EMAIL'], true);
    const res = await gql(
      h.url,
      Execute,
      { id, executions: [{ recipient: { value: 'ada' }, channel: { type: 'email' } }, { recipient: { value: 'ada' }, channel: { type: 'string' } }] },
      auth,
    );
    const [only, all] = res.data!.executeNotification;
    expect((await messagesOf(only!.messageIds)).map((m) => [m.channel, m.critical])).toEqual([['EMAIL', true]]); // urgent from the settings
    expect((await messagesOf(all!.messageIds)).map((m) => m.channel)).toEqual(['IN_APP', 'EMAIL']);
  });

  it('writes nothing when an item is malformed', async () => {
    const id = await notification();
    const before = { messages: await prisma().message.count(), executions: await prisma().execution.count() };
    const res = await gql(h.url, Execute, { id, executions: [{ recipient: { value: 'ada' } }, { recipient: { value: 'ada' }, title: 'x'.repeat(2_000) }] }, auth);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/executions\.1\.title/);
    expect({ messages: await prisma().message.count(), executions: await prisma().execution.count() }).toEqual(before);
  });

  it('POST /notifications/:id/executions (NP6) answers the legacy results and sends the messages', async () => {
    const id = await notification(['IN_APP']);
    const res = await rest(h.url, 'POST', `/notifications/${id}/executions`, [{ recipient: { type: 'id', value: 'bob' }, data: { plan: 'free' } }], {
      'x-key': h.project.apiKey,
      'x-request-id': 'np6-rest-exec',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual([
      {
        type: 'success',
        id: expect.any(String),
        recipient: expect.objectContaining({ id: bob }),
        stamp: expect.objectContaining({ id: expect.any(String) }),
        fallback: { from: 'MOBILE_PUSH', to: ['IN_APP'], reason: expect.any(String) }, // a push-app notification
      },
    ]);
    const [message] = await prisma().message.findMany({ where: { requestId: 'np6-rest-exec' } });
    expect(message).toMatchObject({ executionId: res.body[0].id, channel: 'IN_APP', userId: bob });
    await pollFor(async () => (await prisma().message.findUnique({ where: { id: message!.id } }))?.status === 'DELIVERED', 10_000, 'delivery');

    const one = await rest(h.url, 'POST', `/notifications/${id}/execution`, { recipient: { type: 'id', value: 'ada' } }, { 'x-key': h.project.apiKey, 'x-request-id': 'np6-rest-one' });
    expect(one.status).toBe(200);
    expect(await prisma().message.count({ where: { requestId: 'np6-rest-one', executionId: one.body.id } })).toBe(1);
  });
});

describe('NP6 executions are transactional load', () => {
  it('a broadcast in the process waits while an execution is being accepted (load.busy for its whole accept)', async () => {
    const id = await notification(['IN_APP']);
    const locker = new pg.Client({ connectionString: h.config.DATABASE_URL! });
    await locker.connect();
    try {
      // Inserts into Message wait behind this lock: the execution's accept stays in flight.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE "Message" IN EXCLUSIVE MODE');
      const load = h.herald.delivery.load;
      const waited = load.quiet().then(() => load.busy);
      const pending = rest(h.url, 'POST', `/notifications/${id}/executions`, [{ recipient: { type: 'id', value: 'bob' } }], { 'x-key': h.project.apiKey, 'x-request-id': 'np6-load' });
      await pollFor(() => load.busy, 10_000, 'the execution counted in flight');
      await locker.query('COMMIT');
      expect((await pending).status).toBe(200);
      // quiet() (what a broadcast's chunk waits on) resolved only once the accept was done.
      expect(await waited).toBe(false);
    } finally {
      await locker.end();
    }
  });
});

describe('NP6 tests go through the pipeline when there is a recipient', () => {
  it('sends the test to the recipient (status SENT_TO_PIPELINE) and only records it without one', async () => {
    const id = await notification(['IN_APP']);
    const sent = await gql(h.url, Test, { id, input: { recipient: { type: 'id', value: 'ada' }, title: 'Test {{ firstName }}', redirection: { type: 'literal', value: 'app://t' } } }, auth);
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.testNotification).toMatchObject({ status: 'SENT_TO_PIPELINE', messageIds: [expect.any(String)] });
    const [message] = await messagesOf(sent.data!.testNotification.messageIds);
    expect(message).toMatchObject({ executionId: sent.data!.testNotification.id, userId: ada, content: expect.objectContaining({ title: 'Test Ada', redirection: 'app://t' }) });
    await pollFor(async () => (await prisma().message.findUnique({ where: { id: message!.id } }))?.status === 'DELIVERED', 10_000, 'test delivery');
    expect(await prisma().execution.findUniqueOrThrow({ where: { id: sent.data!.testNotification.id } })).toMatchObject({ kind: 'TEST', status: 'SENT_TO_PIPELINE' });

    const recorded = await gql(h.url, Test, { id, input: {} }, auth);
    expect(recorded.data!.testNotification).toMatchObject({ status: 'RECORDED', messageIds: [] });

    const legacy = await rest(h.url, 'POST', `/notifications/${id}/test`, { recipient: { type: 'id', value: 'bob' } }, { 'x-key': h.project.apiKey });
    expect(legacy.status).toBe(200);
    expect(legacy.body).toMatchObject({ type: 'success', status: 'SENT_TO_PIPELINE', recipient: { id: bob } });
    expect(await prisma().message.count({ where: { executionId: legacy.body.id } })).toBe(1);
  });
});
