import { prisma } from '../../db/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { slowConsumer } from '../../realtime/subscription.ts';
import { inboxEventsAfter, type InboxEventMessage } from './events.ts';

/** When the stream re-reads the database while its live subscription may still be settling in. */
const CATCH_UP_AFTER_MS = [250, 1_000, 3_000];

/**
 * A user's inbox events, exactly once and in cursor order: first those after `since` from the
 * database, then live ones from pub/sub. The live subscription starts before the replay; a live
 * event that skips a cursor (one published while Redis was subscribing, or on another instance
 * out of order) makes the stream fetch the gap from the database, and a few catch-up reads in
 * the first seconds close the window in which the subscription was being set up.
 *
 * return() ends the stream at once, even while it waits for an event: an async generator
 * cannot be returned while it awaits, so a closed socket would otherwise keep the Redis
 * subscription and the catch-up timers until the next event, and a timer could read the
 * database after the server had closed it. Server stop ends every stream the same way (the
 * stream is tracked as a subscription operation, see realtime/use-live-streams.ts).
 */
export function inboxStream(pubsub: HeraldPubSub, projectId: string, userId: string, since: bigint | null): AsyncIterableIterator<InboxEventMessage> {
  const live = pubsub.subscribe('inboxEvent', `${projectId}:${userId}`);
  // Live events are taken at once (to be merged with the catch-up ticks) and wait here instead;
  // past the subscription's own bound, the subscriber is too slow: failing the live
  // subscription ends this stream with SLOW_CONSUMER (and closes its websocket with 1013).
  const maxBuffered = live.max;
  const buffer: (InboxEventMessage | 'tick')[] = [];
  let wake: (() => void) | undefined;
  let overflow = false;
  let closed = false;
  const signal = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const push = (value: InboxEventMessage | 'tick') => {
    if (overflow) return;
    if (buffer.length >= maxBuffered) {
      overflow = true;
      buffer.length = 0;
      live.fail(slowConsumer(maxBuffered));
    } else buffer.push(value);
    signal();
  };
  const timers = CATCH_UP_AFTER_MS.map((ms) => setTimeout(() => push('tick'), ms));
  const close = () => {
    if (closed) return;
    closed = true;
    for (const timer of timers) clearTimeout(timer);
    void live.return();
    signal();
  };

  void (async () => {
    try {
      for (;;) {
        const next = await live.next();
        if (next.done) break;
        push(next.value);
      }
    } catch {
      // The live subscription failed (SLOW_CONSUMER): `overflow` ends the stream with that error.
      overflow = true;
    } finally {
      // The live subscription only ends when this stream or the server is closing.
      close();
    }
  })();

  async function* run(): AsyncGenerator<InboxEventMessage> {
    try {
      let last = since ?? (await prisma().inboxState.findUnique({ where: { userId } }))?.lastCursor ?? 0n;
      const catchUp = async function* (upTo?: bigint) {
        while (!closed) {
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
        if (closed) return;
        if (overflow) throw slowConsumer(maxBuffered);
        const next = buffer.shift();
        if (next === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
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
