import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../src/generated/gql/index.ts';
import { bearer, gql, startTestHerald, type TestHerald } from './helpers/herald.ts';

// messages(filter: { externalId }) meant the message's client id but read like the user's
// externalId: the filter now names both for what they are, and keeps the old name as an alias.

const CreateNotification = graphql(`
  mutation FilterCreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      id
    }
  }
`);
const Send = graphql(`
  mutation FilterSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      messages {
        id
        userId
      }
    }
  }
`);
const Messages = graphql(`
  query FilterMessages($filter: MessageFilter) {
    messages(filter: $filter, first: 50) {
      totalCount
      edges {
        node {
          id
          clientMessageId
          externalId
          userId
        }
      }
    }
  }
`);
const Deprecations = graphql(`
  query FilterDeprecations {
    __type(name: "MessageFilter") {
      inputFields(includeDeprecated: true) {
        name
        isDeprecated
        deprecationReason
      }
    }
  }
`);

let h: TestHerald;
let auth: Record<string, string>;
/** Herald ids of the messages sent in beforeAll, by their client id. */
const sent = new Map<string, { id: string; userId: string }>();

beforeAll(async () => {
  h = await startTestHerald();
  auth = bearer(h.project.apiKey);
  const created = await gql(h.url, CreateNotification, { input: { key: 'hello', type: 'in-app', name: 'hello', versions: [{ contents: [{ locale: 'en', title: 'Hi', body: 'there' }] }] } }, auth);
  expect(created.errors).toBeUndefined();
  // The client ids deliberately look like user externalIds: "ada" is both a user and a message id.
  const res = await gql(
    h.url,
    Send,
    {
      messages: [
        { notificationId: 'hello', userId: 'ada', id: 'bob' },
        { notificationId: 'hello', userId: 'bob', id: 'ada' },
        { notificationId: 'hello', userId: 'bob', id: 'm-3' },
      ],
    },
    auth,
  );
  expect(res.data?.sendMessages.map((r) => r.ok)).toEqual([true, true, true]);
  for (const [i, clientId] of ['bob', 'ada', 'm-3'].entries()) {
    const message = res.data!.sendMessages[i]!.messages[0]!;
    sent.set(clientId, { id: message.id, userId: message.userId! });
  }
});
afterAll(async () => {
  await h?.stop();
});

const ids = async (filter: Record<string, unknown>) => {
  const res = await gql(h.url, Messages, { filter: filter as never }, auth);
  expect(res.errors).toBeUndefined();
  const nodes = res.data!.messages.edges.map((e) => e.node);
  expect(res.data!.messages.totalCount).toBe(nodes.length);
  return nodes.map((n) => n.id).sort();
};
const idsOf = (...clientIds: string[]) => clientIds.map((c) => sent.get(c)!.id).sort();

describe('messages(filter)', () => {
  it('clientMessageId is the id the client gave the message, not the user', async () => {
    expect(await ids({ clientMessageId: 'ada' })).toEqual(idsOf('ada'));
    expect(await ids({ clientMessageId: 'nobody' })).toEqual([]);
    const res = await gql(h.url, Messages, { filter: { clientMessageId: 'm-3' } }, auth);
    expect(res.data!.messages.edges[0]!.node).toMatchObject({ clientMessageId: 'm-3', externalId: 'm-3' });
  });

  it('user: { externalId } is the user, user: { id } their Herald id', async () => {
    expect(await ids({ user: { externalId: 'ada' } })).toEqual(idsOf('bob'));
    expect(await ids({ user: { externalId: 'bob' } })).toEqual(idsOf('ada', 'm-3'));
    expect(await ids({ user: { externalId: 'ghost' } })).toEqual([]);
    const bob = sent.get('ada')!.userId;
    expect(await ids({ user: { id: bob } })).toEqual(idsOf('ada', 'm-3'));
    expect(await ids({ user: { id: bob.toUpperCase() } })).toEqual(idsOf('ada', 'm-3'));
    expect(await ids({ user: { id: bob, externalId: 'bob' } })).toEqual(idsOf('ada', 'm-3'));
    // Both given: both must match (Ada's id with Bob's externalId is nobody).
    expect(await ids({ user: { id: sent.get('bob')!.userId, externalId: 'bob' } })).toEqual([]);
    expect(await ids({ user: { id: 'not-a-uuid' } })).toEqual([]);
    // userId stays the same filter as user: { id }; given together they must agree.
    expect(await ids({ userId: bob })).toEqual(idsOf('ada', 'm-3'));
    expect(await ids({ userId: bob, user: { id: bob } })).toEqual(idsOf('ada', 'm-3'));
    expect(await ids({ userId: bob, user: { id: sent.get('bob')!.userId } })).toEqual([]);
    // Combined with the client id.
    expect(await ids({ user: { externalId: 'bob' }, clientMessageId: 'm-3' })).toEqual(idsOf('m-3'));
  });

  it('externalId still works as a deprecated alias of clientMessageId', async () => {
    expect(await ids({ externalId: 'ada' })).toEqual(idsOf('ada'));
    expect(await ids({ externalId: 'ada', clientMessageId: 'ada' })).toEqual(idsOf('ada'));
    const both = await gql(h.url, Messages, { filter: { externalId: 'ada', clientMessageId: 'bob' } }, auth);
    expect(both.data).toBeNull();
    expect(both.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'filter.externalId' }] });
    expect(both.errors?.[0]?.message).toBe('filter.externalId: is the deprecated name of clientMessageId: give one of them');
  });

  it('the schema marks the old names deprecated, with what to use instead', async () => {
    const res = await gql(h.url, Deprecations, {}, auth);
    const fields = Object.fromEntries(res.data!.__type!.inputFields!.map((f) => [f.name, f]));
    expect(fields.externalId).toMatchObject({ isDeprecated: true, deprecationReason: expect.stringContaining('clientMessageId') });
    expect(fields.externalId!.deprecationReason).toContain('user: { externalId }');
    expect(fields.clientMessageId).toMatchObject({ isDeprecated: false });
    expect(fields.user).toMatchObject({ isDeprecated: false });
  });
});
