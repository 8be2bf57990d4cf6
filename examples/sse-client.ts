/**
 * The inbox over Server-Sent Events, for clients without websockets: a POST with
 * `Accept: text/event-stream` (EventSource cannot send headers, so this reads the stream
 * with fetch), `since: "0"` replays the whole history first.
 *
 *   node --import tsx examples/sse-client.ts [--user=u1] [--since=0] [--events=N]
 *
 * Needs PROJECT and HASH. Stops after N events (default: until Ctrl-C or the server ends it).
 */
import { HERALD_URL, option, required } from './env.ts';

const wanted = Number(option('events', 'Infinity'));
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

const response = await fetch(`${HERALD_URL}/graphql`, {
  method: 'POST',
  headers: {
    accept: 'text/event-stream',
    'content-type': 'application/json',
    'x-herald-project': required('PROJECT'),
    'x-herald-user': option('user', 'u1'),
    'x-herald-user-hash': required('HASH'),
  },
  body: JSON.stringify({
    query: 'subscription Inbox($since: String) { inbox(since: $since) { cursor type unreadCount item { id title } } }',
    variables: { since: option('since', '0') },
  }),
  signal: controller.signal,
});
if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);

// An SSE stream is blocks separated by a blank line, each with `event:` and `data:` lines.
let seen = 0;
let buffer = '';
const decoder = new TextDecoder();
try {
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join('\n');
      if (event === 'complete') process.exit(0);
      if (event !== 'next') continue; // keep-alive comments
      const payload = JSON.parse(data) as { data?: { inbox: { cursor: string; type: string; unreadCount: number; item: { title: string | null } | null } }; errors?: { message: string }[] };
      if (payload.errors) throw new Error(payload.errors.map((e) => e.message).join('; '));
      const inbox = payload.data!.inbox;
      console.log(`#${inbox.cursor} ${inbox.type} ${inbox.item?.title ?? ''} (unread: ${inbox.unreadCount})`);
      if (++seen >= wanted) controller.abort();
    }
  }
} catch (error) {
  if (!controller.signal.aborted) throw error;
}
