import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { inboxEventsAfter, type InboxEventMessage } from './events.ts';
import { prisma } from '../../db/client.ts';

/** Past this many undelivered events a subscriber is too slow: its subscription ends with an error. */
export const MAX_BUFFERED_EVENTS = 1_000;

export class SlowConsumerError extends Error {
  constructor() {
    super(`More than ${MAX_BUFFERED_EVENTS} inbox events are waiting for this subscriber: resubscribe with since = the last cursor you received`);
  }
}

/**
 * A user's inbox events, exactly once and in cursor order: first those after `since` from the
 * database, then live ones from pub/sub. The live subscription starts before the replay; a live
 * event that skips a cursor (one published while Redis was subscribing, or on another instance
 * out of order) makes the stream fetch the gap from the database, and a few catch-up reads in
 * the first seconds close the window in which the subscription was being set up.
 */
export async function* inboxStream(pubsub: HeraldPubSub, projectId: string, userId: string, since: bigint | null): AsyncGenerator<InboxEventMessage> {
  const live = pubsub.subscribe('inboxEvent', `${projectId}:${userId}`)[Symbol.asyncIterator]();
  const buffer: (InboxEventMessage | 'tick')[] = [];
  let wake: (() => void) | undefined;
  let overflow = false;
  let ended = false;
  const push = (value: InboxEventMessage | 'tick') => {
    if (buffer.length >= MAX_BUFFERED_EVENTS) overflow = true;
    else buffer.push(value);
    wake?.();
  };
  void (async () => {
    for (;;) {
      const next = await live.next();
      if (next.done || ended) break;
      push(next.value);
    }
  })();
  const timers = [250, 1_000, 3_000].map((ms) => setTimeout(() => push('tick'), ms));

  let last = since ?? (await prisma().inboxState.findUnique({ where: { userId } }))?.lastCursor ?? 0n;
  try {
    const catchUp = async function* (upTo?: bigint) {
      for (;;) {
        const page = await inboxEventsAfter(userId, last);
        for (const event of page) {
          const cursor = BigInt(event.cursor);
          if (upTo !== undefined && cursor > upTo) return;
          last = cursor;
          yield event;
        }
        if (page.length < 1_000) return;
      }
    };
    yield* catchUp();
    for (;;) {
      if (overflow) throw new SlowConsumerError();
      const next = buffer.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      if (next === 'tick') {
        yield* catchUp();
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
    ended = true;
    for (const timer of timers) clearTimeout(timer);
    await live.return?.();
  }
}
