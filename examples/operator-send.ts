/**
 * Your backend sends a notification: upsert the user, send `welcome` with data, then follow the
 * message until it is delivered (or failed).
 *
 *   node --import tsx examples/operator-send.ts [--user=u1] [--notification=welcome]
 *
 * Needs APIKEY (and HERALD_URL when Herald is not on localhost:4000).
 */
import { graphql, option, required } from './env.ts';

const auth = { authorization: `Bearer ${required('APIKEY')}` };
const userId = option('user', 'u1');
const notificationId = option('notification', 'welcome');

const upserted = await graphql<{ upsertUsers: { ok: boolean; error: { message: string } | null }[] }>(
  'mutation Upsert($users: [UserInput!]!) { upsertUsers(users: $users) { ok error { message } } }',
  { users: [{ externalId: userId, email: `${userId}@example.com`, firstName: 'Ada' }] },
  auth,
);
if (!upserted.upsertUsers[0]?.ok) throw new Error(`upsert refused: ${upserted.upsertUsers[0]?.error?.message}`);

const sent = await graphql<{ sendMessages: { ok: boolean; error: string | null; messages: { id: string; channel: string; status: string }[] }[] }>(
  'mutation Send($messages: [SendMessageInput!]!) { sendMessages(messages: $messages) { ok error messages { id channel status } } }',
  { messages: [{ notificationId, userId, data: { plan: 'pro' } }] },
  auth,
);
const result = sent.sendMessages[0]!;
if (!result.ok) throw new Error(`send refused: ${result.error}`);
console.log(`accepted: ${result.messages.map((m) => `${m.channel} ${m.id}`).join(', ')}`);

// Delivery is asynchronous: the answer says the message is stored, a worker sends it.
const FINAL = new Set(['SENT', 'DELIVERED', 'FAILED', 'SKIPPED', 'CANCELED']);
for (const { id } of result.messages) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { message } = await graphql<{ message: { status: string; lastError: string | null } | null }>(
      'query Status($id: ID!) { message(id: $id) { status lastError } }',
      { id },
      auth,
    );
    if (message && FINAL.has(message.status)) {
      console.log(`${id}: ${message.status}${message.lastError ? ` (${message.lastError})` : ''}`);
      break;
    }
    if (Date.now() > deadline) throw new Error(`${id} still ${message?.status} after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
