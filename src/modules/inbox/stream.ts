import { prisma, rawQuery } from '../../db/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { batched } from '../../realtime/batch.ts';
import { slowConsumer } from '../../realtime/subscription.ts';
import type { Subscription } from '../../realtime/subscription.ts';
import { inboxEventsAfter, type InboxEventMessage } from './events.ts';

/**
 * A user's inbox events, exactly once and in cursor order: first those after `since` from the
 * database, then live ones from pub/sub. The live subscription is registered (in this process's
 * router, synchronously: the instance's Redis subscription already exists) before the replay
 * reads, and events are published after their commit, so each event is either in the replay or
 * arrives live. A live event that skips a cursor (one of another instance overtaking, or a
 * Redis outage) makes the stream fetch the gap from the database. (Catch-up reads 250 ms, 1 s
 * and 3 s after subscribing covered the Redis SUBSCRIBE round trip of a per-user channel: three
 * timers and three reads per socket, gone with it.)
 *
 * `user` is the user's id, or the externalId of a user no operator has created yet (a widget
 * opened before the user's first message): the stream then waits for the user to appear (see
 * waitForUser) and starts from their first event.
 *
 * return() ends the stream at once, even while it waits for an event: an async generator
 * cannot be returned while it awaits, so a closed socket would otherwise keep the
 * subscription and the catch-up timers until the next event, and a timer could read the
 * database after the server had closed it. Server stop ends every stream the same way (the
 * stream is tracked as a subscription operation, see realtime/use-live-streams.ts).
 */
export function inboxStream(
  pubsub: HeraldPubSub,
  projectId: string,
  user: string | { externalId: string },
  since: bigint | null,
): AsyncIterableIterator<InboxEventMessage> {
  const buffer: InboxEventMessage[] = [];
  let wake: (() => void) | undefined;
  let overflow = false;
  let closed = false;
  let live: Subscription<InboxEventMessage> | undefined;
  let cancelWait = () => {};
  const signal = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const push = (value: InboxEventMessage) => {
    if (overflow || !live) return;
    // Live events are taken at once (the replay may be running) and wait here; past
    // the subscription's own bound the subscriber is too slow: failing the live subscription
    // ends this stream with SLOW_CONSUMER (and closes its websocket with 1013).
    if (buffer.length >= live.max) {
      overflow = true;
      buffer.length = 0;
      live.fail(slowConsumer(live.max));
    } else buffer.push(value);
    signal();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    cancelWait();
    void live?.return();
    signal();
  };

  /** Subscribes to the user's live events (before the replay reads the database). */
  const goLive = (userId: string) => {
    // Events go straight into `buffer` (push bounds it with the subscription's max): no pump
    // awaiting the subscription per socket. The live subscription only ends when this stream
    // or the server is closing, or when push fails it (SLOW_CONSUMER: `overflow` ends the stream).
    live = pubsub.subscribe('inboxEvent', `${projectId}:${userId}`, { sink: push });
  };

  let userId: string | undefined;
  let found: Promise<string | undefined> | undefined;
  if (typeof user === 'string') {
    userId = user;
    goLive(user);
  } else {
    found = new Promise((resolve) => {
      const cancel = waitForUser(projectId, user.externalId, (id) => {
        goLive(id);
        resolve(id);
      });
      cancelWait = () => {
        cancel();
        resolve(undefined);
      };
    });
  }

  async function* run(): AsyncGenerator<InboxEventMessage> {
    try {
      userId ??= await found;
      if (closed || userId === undefined) return;
      const id = userId;
      let last = since ?? (await lastCursorOf(id)) ?? 0n;
      const catchUp = async function* (upTo?: bigint) {
        while (!closed) {
          const page = await inboxEventsAfter(id, last);
          for (const event of page) {
            const cursor = BigInt(event.cursor);
            if (upTo !== undefined && cursor > upTo) return;
            last = cursor;
            yield event;
          }
          if (page.length < 1_000) return;
        }
      };
      // Without `since`, only live events: the live route was registered before `last` was read,
      // so whatever commits after that read arrives live; nothing is left to read back.
      if (since !== null) yield* catchUp();
      for (;;) {
        if (closed) return;
        if (overflow) throw slowConsumer(live?.max ?? 0);
        const next = buffer.shift();
        if (next === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const cursor = BigInt(next.cursor);
        if (cursor <= last) continue; // already delivered (replay or catch-up)
        if (cursor === last + 1n) {
          last = cursor;
          yield next;
        } else yield* catchUp(cursor); // a gap: the database has everything up to this event
      }
    } finally {
      close();
    }
  }

  const events = run();
  // Closing first wakes a stream that waits for an event, so return() does not wait for one;
  // a database read in flight is awaited, so none is left running when the database closes.
  const end = async (): Promise<IteratorResult<InboxEventMessage>> => {
    close();
    return events.return(undefined);
  };
  return {
    next: () => events.next(),
    return: end,
    throw: (error?: unknown) => {
      close();
      return events.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** How often the instance looks for the users its widgets wait for. */
const WAIT_FOR_USER_MS = 1_000;
/** Widgets waiting for their user, by project and externalId. */
const awaited = new Map<string, { projectId: string; externalId: string; found: Set<(userId: string) => void> }>();
let polling: NodeJS.Timeout | undefined;

/**
 * Calls `found` once a user with this externalId exists in the project. All the widgets of an
 * instance waiting for their user share one query per interval (none while nobody waits), so
 * opening widgets for users not created yet costs no write and a bounded number of reads.
 * Returns what cancels the wait.
 */
export function waitForUser(projectId: string, externalId: string, found: (userId: string) => void): () => void {
  const key = `${projectId}\u0000${externalId}`;
  let entry = awaited.get(key);
  if (!entry) awaited.set(key, (entry = { projectId, externalId, found: new Set() }));
  entry.found.add(found);
  polling ??= setTimeout(pollAwaitedUsers, WAIT_FOR_USER_MS).unref();
  return () => {
    const current = awaited.get(key);
    current?.found.delete(found);
    if (current && current.found.size === 0) awaited.delete(key);
  };
}

async function pollAwaitedUsers() {
  try {
    const byProject = new Map<string, string[]>();
    for (const { projectId, externalId } of awaited.values()) byProject.set(projectId, [...(byProject.get(projectId) ?? []), externalId]);
    if (byProject.size === 0) return;
    const users = await prisma().user.findMany({
      where: { OR: [...byProject].map(([projectId, externalIds]) => ({ projectId, externalId: { in: externalIds } })) },
      select: { id: true, projectId: true, externalId: true },
    });
    for (const user of users) {
      const key = `${user.projectId}\u0000${user.externalId}`;
      const entry = awaited.get(key);
      awaited.delete(key);
      for (const found of entry?.found ?? []) found(user.id);
    }
  } catch {
    // The database is unreachable: the next round tries again.
  } finally {
    polling = awaited.size ? setTimeout(pollAwaitedUsers, WAIT_FOR_USER_MS).unref() : undefined;
  }
}

/** The latest cursor of each user whose stream starts in the same tick, in one query. */
const lastCursorOf = batched(
  async (userIds: string[]) => {
    // On the pool, as the widget lookup: one per batch of sockets starting their streams.
    const states = await rawQuery<{ userId: string; lastCursor: string }>(`SELECT "userId"::text AS "userId", "lastCursor"::text AS "lastCursor" FROM "InboxState" WHERE "userId" = ANY($1::uuid[])`, [userIds], { prepared: true });
    return new Map(states.map((s) => [s.userId, BigInt(s.lastCursor)]));
  },
  (userId: string) => userId,
);
