/**
 * A widget follows its user's inbox without a gap: read the cursor, then the list, then
 * subscribe over graphql-ws with `since` that cursor; events already applied are skipped.
 *
 *   node --import tsx examples/widget-subscribe.ts [--user=u1] [--events=N]
 *
 * Needs PROJECT and HASH (the HMAC of the user keyed by the widget secret, computed by your
 * backend). Node 20 has no global WebSocket: graphql-ws gets the `ws` package's. In a browser,
 * leave webSocketImpl out. Stops after N events (default: runs until Ctrl-C).
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql, HERALD_URL, option, required } from './env.ts';

const projectId = required('PROJECT');
const userId = option('user', 'u1');
const userHash = required('HASH');
const wanted = Number(option('events', 'Infinity'));
const headers = { 'x-herald-project': projectId, 'x-herald-user': userId, 'x-herald-user-hash': userHash };

type InboxEvent = { cursor: string; type: string; unreadCount: number; item: { id: string; title: string | null; readAt: string | null } | null };

// 1. The cursor first, then the list: whatever changes in between is replayed by `since`.
let last = BigInt((await graphql<{ inboxCursor: string }>('{ inboxCursor }', {}, headers)).inboxCursor);
const first = await graphql<{ unreadCount: number; inbox: { edges: { node: { id: string; title: string | null } }[] } }>(
  '{ unreadCount inbox(first: 20) { edges { node { id title } } } }',
  {},
  headers,
);
console.log(`unread: ${first.unreadCount}; latest: ${first.inbox.edges.map((e) => e.node.title).join(' | ') || '(none)'}`);

// 2. Subscribe from that cursor.
const client = createClient({
  url: `${HERALD_URL.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { projectId, userId, userHash },
  retryAttempts: Infinity,
});
let seen = 0;
const done = new Promise<void>((resolve, reject) => {
  client.subscribe<{ inbox: InboxEvent }>(
    {
      query: 'subscription Inbox($since: String) { inbox(since: $since) { cursor type unreadCount item { id title readAt } } }',
      variables: { since: String(last) },
    },
    {
      next: ({ data }) => {
        const event = data!.inbox;
        // An automatic reconnect resends the original `since`: skip what was applied already.
        if (BigInt(event.cursor) <= last) return;
        last = BigInt(event.cursor);
        console.log(`#${event.cursor} ${event.type} ${event.item?.title ?? ''} (unread: ${event.unreadCount})`);
        if (++seen >= wanted) resolve();
      },
      error: reject,
      complete: resolve,
    },
  );
});
console.log(`subscribed since ${last}`);
process.once('SIGINT', () => void client.dispose());
await done;
await client.dispose();
