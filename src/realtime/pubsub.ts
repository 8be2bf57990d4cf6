import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InboxEventMessage } from '../modules/inbox/events.ts';
import { LiveStreams } from './streams.ts';
import { DEFAULT_MAX_BUFFERED_EVENTS, Subscription } from './subscription.ts';

/**
 * Typed topics. Payloads carry ids and ISO strings only (never rows or Date objects): they
 * cross Redis as JSON, and subscribers re-read what they need, shaped by their selection.
 * Modules add their topics here as they publish them.
 */
export type Topics = {
  /** An API key was revoked; streams and sockets authenticated with it end. */
  apiKeyRevoked: [payload: { projectId: string; keyId: string; at: string }];
  /** A project's widget secret was replaced; end-user streams of the project end. */
  widgetSecretRotated: [payload: { projectId: string; at: string }];
  /** A user was deleted; their end-user streams end. */
  userDeleted: [payload: { projectId: string; userId: string; at: string }];
  /** A tenant was deleted; the streams of widgets scoped to it end. */
  tenantDeleted: [payload: { projectId: string; tenantId: string; at: string }];
  /** A delivery status change, by project. */
  messageStatus: [projectId: string, payload: MessageStatusEvent];
  /** A user's inbox changed; the topic id is "<projectId>:<userId>". */
  inboxEvent: [projectUser: string, payload: InboxEventMessage];
  /** A workflow run's step changed (src/modules/workflows/engine.ts); the topic id is the run id. */
  workflowRun: [runId: string, payload: WorkflowRunEvent];
  /** A broadcast advanced (a chunk, or its end); the topic id is the broadcast's id. */
  broadcastProgress: [broadcastId: string, payload: BroadcastProgressEvent];
};

export interface WorkflowRunEvent {
  runId: string;
  projectId: string;
  index: number;
  status: string;
  at: string;
}

export interface BroadcastProgressEvent {
  broadcastId: string;
  projectId: string;
  status: string;
  processed: number;
  at: string;
}

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

export type TopicName = keyof Topics;
export type TopicPayload<T extends TopicName> = Topics[T] extends [string, infer P] ? P : Topics[T] extends [infer P] ? P : never;

export interface SubscribeOptions<P> {
  /** Only these events are buffered and delivered. */
  filter?: (payload: P) => boolean;
  /** Events held for a consumer that has not taken them; one more ends the subscription (SLOW_CONSUMER). */
  maxBuffered?: number;
  /**
   * Takes each event as it arrives instead of the subscription's queue (next() then only ends or
   * fails): for a consumer that keeps its own bounded buffer, which then saves a pending pull,
   * its promise and a pump per subscriber. Must not throw.
   */
  sink?: (payload: P) => void;
}

type SubscribeArgs<T extends TopicName> = Topics[T] extends [string, infer P]
  ? [id: string, options?: SubscribeOptions<P>]
  : [options?: SubscribeOptions<TopicPayload<T>>];

export interface HeraldPubSub {
  /** Fire and forget; subscribers of every instance get it (through Redis when configured). */
  publish<T extends TopicName>(topic: T, ...args: Topics[T]): void;
  /** A bounded subscription (see Subscription): end it with return(). */
  subscribe<T extends TopicName>(topic: T, ...args: SubscribeArgs<T>): Subscription<TopicPayload<T>>;
  /** Every subscription stream open in this process (websocket and SSE), with its credentials. */
  readonly streams: LiveStreams;
  /** Subscribers of a topic (and id) in this process. */
  subscribers(topic: TopicName, id?: string): number;
  /**
   * The same pub/sub, whose subscriptions also report their failure (SLOW_CONSUMER) to `onFail`:
   * a subscription operation hands it to its resolvers, so that its transport can close.
   */
  reporting(onFail: (error: Error) => void): HeraldPubSub;
}

export interface PubSubHandle {
  pubsub: HeraldPubSub;
  kind: 'redis' | 'in-process';
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface PubSubOptions {
  /** Events per subscriber before SLOW_CONSUMER. */
  maxBufferedEvents?: number;
}

/**
 * Events published in one tick are sent as one Redis message per topic, at most this many each
 * (a fan-out publishes thousands at once; one PUBLISH each cost Redis and every instance a
 * message parse apiece).
 */
const MAX_EVENTS_PER_MESSAGE = 500;

/**
 * Each Redis message starts with an entry naming the instance that published it (this prefix and
 * a random id): an instance skips its own messages, which it delivered to its subscribers already.
 */
const ORIGIN_ID = '\u0000origin:';

/**
 * Redis when REDIS_URL is set (several instances share events), otherwise in-process.
 *
 * One Redis subscription per instance and topic, whatever the number of subscribers: a Redis
 * channel per user (or per subscription) cost a SUBSCRIBE and an UNSUBSCRIBE round trip per
 * socket, and the event target's listeners map besides. Every instance receives every event of
 * a topic and routes it in memory to its own subscribers by the topic id (a Map lookup).
 * `prefix` keeps deployments sharing one Redis apart (QUEUE_PREFIX).
 */
export function openPubSub(redisUrl: string | undefined, logger?: Pick<Logger, 'warn' | 'error'>, prefix = 'herald', options: PubSubOptions = {}): PubSubHandle {
  const router = new Router(options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS, logger);
  if (!redisUrl) {
    return { pubsub: router.view(router.deliver.bind(router)), kind: 'in-process', ping: async () => {}, close: async () => {} };
  }
  // A subscribed ioredis connection cannot publish, hence two.
  const clientOptions = { maxRetriesPerRequest: null, lazyConnect: false } as const;
  const publishClient = new Redis(redisUrl, clientOptions);
  const subscribeClient = new Redis(redisUrl, clientOptions);
  for (const [role, client] of [['publish', publishClient], ['subscribe', subscribeClient]] as const) {
    // Without a listener ioredis prints every failed reconnection to stderr. It reconnects by
    // itself (and subscribes again); we log the first error of each outage (/readyz reports it meanwhile).
    let reported = false;
    client.on('ready', () => (reported = false));
    client.on('error', (error: Error) => {
      if (!reported) logger?.warn({ err: error, role }, `Redis connection error: ${error.message}`);
      reported = true;
    });
  }
  const topics: TopicName[] = ['apiKeyRevoked', 'widgetSecretRotated', 'userDeleted', 'messageStatus', 'inboxEvent', 'tenantDeleted', 'workflowRun', 'broadcastProgress'];
  const channelOf = new Map(topics.map((topic) => [topic, `${prefix}:events:${topic}`]));
  const topicOf = new Map([...channelOf].map(([topic, channel]) => [channel, topic]));
  subscribeClient.subscribe(...channelOf.values()).catch((error: unknown) => logger?.warn({ err: error }, 'Redis SUBSCRIBE failed'));
  // This instance's own events reach its subscribers at flush, without the Redis round trip (a
  // send's event on a socket of the instance that delivered it: most widget events of a single
  // instance); the copy Redis echoes back is recognised by its origin entry and skipped.
  const origin = `${ORIGIN_ID}${randomUUID()}`;
  /** How our messages begin as JSON text (the NUL escaped), followed by `,` or `]`. */
  const ours = JSON.stringify([[origin, null]]).slice(0, -1);
  const deliverBatch = (topic: TopicName, message: string) => {
    let batch: [string | null, unknown][];
    try {
      batch = JSON.parse(message) as [string | null, unknown][];
    } catch (error) {
      logger?.warn({ err: error, topic }, 'Dropped an unreadable pub/sub message');
      return;
    }
    for (const [id, payload] of batch) {
      // The origin entry (older instances send none; to them it is an id nobody subscribes to).
      if (id?.startsWith(ORIGIN_ID)) continue;
      router.deliver(topic, id ?? undefined, payload);
    }
  };
  subscribeClient.on('message', (channel: string, message: string) => {
    const topic = topicOf.get(channel);
    if (!topic) return;
    if (message.startsWith(ours)) return; // ours: delivered at flush
    deliverBatch(topic, message);
  });

  let pending = new Map<TopicName, [string | null, unknown][]>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batches = pending;
    pending = new Map();
    for (const [topic, events] of batches) {
      for (let i = 0; i < events.length; i += MAX_EVENTS_PER_MESSAGE) {
        const message = JSON.stringify([[origin, null], ...events.slice(i, i + MAX_EVENTS_PER_MESSAGE)]);
        // Parsed back as every instance reads it, so local subscribers get the same JSON copy
        // (never the publisher's own objects) whether or not Redis answers.
        deliverBatch(topic, message);
        publishClient.publish(channelOf.get(topic)!, message).catch((error: unknown) => logger?.warn({ err: error, topic }, 'Redis PUBLISH failed'));
      }
    }
  };
  const publish = (topic: TopicName, id: string | undefined, payload: unknown) => {
    let events = pending.get(topic);
    if (!events) pending.set(topic, (events = []));
    events.push([id ?? null, payload]);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    pubsub: router.view(publish),
    kind: 'redis',
    async ping() {
      await publishClient.ping();
    },
    async close() {
      // What was published just before is sent before QUIT (ioredis keeps command order).
      if (scheduled) flush();
      await Promise.all([closeRedis(publishClient), closeRedis(subscribeClient)]);
    },
  };
}

/** The subscribers of this process, by topic and id. */
class Router {
  readonly #routes = new Map<string, Set<Subscription<unknown>>>();
  readonly streams = new LiveStreams();
  readonly #max: number;
  readonly #logger: Pick<Logger, 'error'> | undefined;

  constructor(max: number, logger?: Pick<Logger, 'error'>) {
    this.#max = max;
    this.#logger = logger;
  }

  deliver(topic: TopicName, id: string | undefined, payload: unknown): void {
    const subscribers = this.#routes.get(key(topic, id));
    if (!subscribers) return;
    for (const subscriber of subscribers) {
      // push() does not throw; a filter might. One subscriber's bug must not reach the others.
      try {
        subscriber.push(payload);
      } catch (error) {
        this.#logger?.error({ err: error, topic }, 'A subscriber failed to take an event');
      }
    }
  }

  subscribe(topic: TopicName, id: string | undefined, options: SubscribeOptions<unknown>, onFail?: (error: Error) => void): Subscription<unknown> {
    const routeKey = key(topic, id);
    let subscribers = this.#routes.get(routeKey);
    if (!subscribers) this.#routes.set(routeKey, (subscribers = new Set()));
    const subscription: Subscription<unknown> = new Subscription({
      max: options.maxBuffered ?? this.#max,
      filter: options.filter,
      sink: options.sink,
      onFail,
      detach: () => {
        const set = this.#routes.get(routeKey);
        if (!set) return;
        set.delete(subscription);
        if (set.size === 0) this.#routes.delete(routeKey);
      },
    });
    subscribers.add(subscription);
    return subscription;
  }

  count(topic: TopicName, id?: string): number {
    return this.#routes.get(key(topic, id))?.size ?? 0;
  }

  view(publish: Publish, onFail?: (error: Error) => void): HeraldPubSub {
    return new PubSubView(this, publish, onFail) as unknown as HeraldPubSub;
  }
}

type Publish = (topic: TopicName, id: string | undefined, payload: unknown) => void;

/**
 * What callers hold. Every subscription operation gets its own (reporting(): its failure
 * handler), so it is a class whose methods live on the prototype: an object literal of arrow
 * functions cost five closures per socket, about half a KB of an idle subscriber.
 */
class PubSubView {
  readonly #router: Router;
  readonly #publish: Publish;
  readonly #onFail: ((error: Error) => void) | undefined;

  constructor(router: Router, publish: Publish, onFail: ((error: Error) => void) | undefined) {
    this.#router = router;
    this.#publish = publish;
    this.#onFail = onFail;
  }

  get streams(): LiveStreams {
    return this.#router.streams;
  }

  publish(topic: TopicName, ...args: unknown[]): void {
    if (args.length >= 2) this.#publish(topic, args[0] as string, args[1]);
    else this.#publish(topic, undefined, args[0]);
  }

  subscribe(topic: TopicName, ...args: unknown[]): Subscription<unknown> {
    const withId = typeof args[0] === 'string';
    const id = withId ? (args[0] as string) : undefined;
    const options = ((withId ? args[1] : args[0]) ?? {}) as SubscribeOptions<unknown>;
    return this.#router.subscribe(topic, id, options, this.#onFail);
  }

  subscribers(topic: TopicName, id?: string): number {
    return this.#router.count(topic, id);
  }

  reporting(handler: (error: Error) => void): HeraldPubSub {
    return this.#router.view(this.#publish, handler);
  }
}

function key(topic: string, id: string | undefined): string {
  return id === undefined ? topic : `${topic}:${id}`;
}

/**
 * QUIT, after the commands already queued (publishes made just before close, also on a
 * connection still being established); when Redis does not answer (down, reconnecting) QUIT
 * would wait in the offline queue forever and shutdown with it, so the connection is dropped
 * after timeoutMs. Bounded either way.
 */
async function closeRedis(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'reconnecting' || client.status === 'close') {
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
