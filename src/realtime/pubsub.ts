import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { InboxEventMessage } from '../modules/inbox/events.ts';
import type { Logger } from 'pino';
import { LiveStreams } from './streams.ts';

/**
 * Typed topics. Payloads carry ids and ISO strings only (never rows or Date objects): they
 * cross Redis as JSON, and subscribers re-read what they need, shaped by their selection.
 * Modules add their topics here as they publish them.
 */
export type Topics = {
  /** An API key was revoked; sockets authenticated with it are closed. */
  apiKeyRevoked: [payload: { projectId: string; keyId: string; at: string }];
  /** A delivery status change, by project. */
  messageStatus: [projectId: string, payload: MessageStatusEvent];
  /** A user's inbox changed; the topic id is "<projectId>:<userId>". */
  inboxEvent: [projectUser: string, payload: InboxEventMessage];
};

export interface MessageStatusEvent {
  messageId: string;
  projectId: string;
  userId: string | null;
  notificationId: number | null;
  channel: string;
  status: string;
  attempt: number;
  error: string | null;
  at: string;
}

export type HeraldPubSub = PubSub<Topics> & {
  /** Every subscription open on this pub/sub, so that stopping the server can end them. */
  readonly streams: LiveStreams;
};

export interface PubSubHandle {
  pubsub: HeraldPubSub;
  kind: 'redis' | 'in-process';
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Redis when REDIS_URL is set (several instances share events), otherwise in-process. */
export function openPubSub(redisUrl: string | undefined, logger?: Pick<Logger, 'warn'>): PubSubHandle {
  if (!redisUrl) {
    return { pubsub: tracked(createPubSub<Topics>()), kind: 'in-process', ping: async () => {}, close: async () => {} };
  }
  // A subscribed ioredis connection cannot publish, hence two.
  const options = { maxRetriesPerRequest: null, lazyConnect: false } as const;
  const publishClient = new Redis(redisUrl, options);
  const subscribeClient = new Redis(redisUrl, options);
  for (const [role, client] of [['publish', publishClient], ['subscribe', subscribeClient]] as const) {
    // Without a listener ioredis prints every failed reconnection to stderr. It reconnects by
    // itself; we log the first error of each outage (/readyz reports it meanwhile).
    let reported = false;
    client.on('ready', () => (reported = false));
    client.on('error', (error: Error) => {
      if (!reported) logger?.warn({ err: error, role }, `Redis connection error: ${error.message}`);
      reported = true;
    });
  }
  // redis-event-target unsubscribes without awaiting when the last listener of a topic leaves;
  // a subscription ended during shutdown then hits a closed connection. Nothing is left to
  // unsubscribe from a closed connection, so that rejection is dropped here.
  const unsubscribe = subscribeClient.unsubscribe.bind(subscribeClient) as (...channels: string[]) => Promise<unknown>;
  subscribeClient.unsubscribe = ((...channels: string[]) =>
    unsubscribe(...channels).catch((error: unknown) => {
      if (subscribeClient.status === 'ready') throw error;
      return 0;
    })) as typeof subscribeClient.unsubscribe;
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  return {
    pubsub: tracked(createPubSub<Topics>({ eventTarget })),
    kind: 'redis',
    async ping() {
      await publishClient.ping();
    },
    async close() {
      await Promise.all([closeRedis(publishClient), closeRedis(subscribeClient)]);
    },
  };
}

/**
 * Registers every subscription in `streams`. Ending one resolves its pending next() with done,
 * so a subscription resolver looping over it (`for await`) finishes instead of waiting for an
 * event that will never come once the server stops.
 */
function tracked(pubsub: PubSub<Topics>): HeraldPubSub {
  const streams = new LiveStreams();
  const subscribe = ((...args: Parameters<PubSub<Topics>['subscribe']>) => {
    const repeater = (pubsub.subscribe as (...a: typeof args) => ReturnType<PubSub<Topics>['subscribe']>)(...args);
    const end = repeater.return.bind(repeater);
    const untrack = streams.add(() => end());
    repeater.return = (value) => {
      untrack();
      return end(value);
    };
    return repeater;
  }) as PubSub<Topics>['subscribe'];
  return { publish: pubsub.publish, subscribe, streams };
}

/**
 * QUIT when connected; otherwise (Redis down, reconnecting) QUIT would wait in the offline
 * queue forever and shutdown with it, so the connection is dropped instead. Bounded either way.
 */
async function closeRedis(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  const timer = setTimeout(() => client.disconnect(), timeoutMs);
  try {
    await client.quit();
  } catch {
    // Disconnected meanwhile: closed all the same.
  } finally {
    clearTimeout(timer);
  }
}
