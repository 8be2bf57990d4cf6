import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { userHash } from '../../src/modules/projects/credentials.ts';
import { TEST_REDIS_URL } from './database.ts';
import { pollFor } from './http-server.ts';

/** The widget credentials of an end user, as HTTP headers and as graphql-ws connection params. */
export function widgetAuth(projectId: string, widgetSecret: string, externalId: string) {
  const hash = userHash(widgetSecret, externalId);
  return {
    headers: { 'x-herald-project': projectId, 'x-herald-user': externalId, 'x-herald-user-hash': hash },
    params: { projectId, userId: externalId, userHash: hash },
  };
}

export const INBOX_SUBSCRIPTION = 'subscription Inbox($since: String) { inbox(since: $since) { cursor type unreadCount item { id } } }';

export interface InboxEvent {
  cursor: string;
  type: string;
  unreadCount: number;
  item: { id: string } | null;
}

/** An inbox subscriber over graphql-ws (the official client), recording events and the close code. */
export function inboxSubscriber(baseUrl: string, params: Record<string, unknown>, since?: string) {
  const events: InboxEvent[] = [];
  const errors: unknown[] = [];
  let closedWith: number | undefined;
  let acknowledged = false;
  const client: Client = createClient({
    url: `${baseUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: params,
    on: { closed: (e) => (closedWith = (e as { code: number }).code), connected: () => (acknowledged = true) },
    onNonLazyError: () => {},
  });
  client.subscribe(
    { query: INBOX_SUBSCRIPTION, variables: since === undefined ? {} : { since } },
    { next: (v) => events.push((v.data as { inbox: InboxEvent }).inbox), error: (e) => errors.push(e), complete: () => {} },
  );
  return { events, errors, client, acknowledged: () => acknowledged, closed: () => closedWith };
}

export interface RawMessage {
  type: string;
  id?: string;
  payload?: any;
}

/**
 * A graphql-transport-ws client on a bare `ws` socket, for what the official client hides:
 * not answering pings (autoPong: false), not sending connection_init, not reading.
 */
export async function rawSocket(baseUrl: string, options: { autoPong?: boolean } = {}) {
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { autoPong: options.autoPong ?? true });
  const messages: RawMessage[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as RawMessage));
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const send = (message: RawMessage) => socket.send(JSON.stringify(message));
  return {
    socket,
    messages,
    closed,
    send,
    /** Sends connection_init and waits for the ack. */
    async init(params: Record<string, unknown>) {
      send({ type: 'connection_init', payload: params });
      await pollFor(() => messages.some((m) => m.type === 'connection_ack'), 5_000, 'connection_ack');
    },
    subscribe(id: string, query: string, variables: Record<string, unknown> = {}) {
      send({ type: 'subscribe', id, payload: { query, variables } });
    },
    of: (id: string) => messages.filter((m) => m.id === id),
  };
}

/** One event of a text/event-stream response. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * A GraphQL subscription over SSE ("distinct connections" mode) read with fetch, as a browser's
 * fetch-based client would: parses events as they arrive.
 */
export async function sseSubscription(baseUrl: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  let ended: 'end' | 'error' | undefined;
  const reading = (async () => {
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        let boundary: number;
        while ((boundary = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, boundary);
          text = text.slice(boundary + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          if (lines.length === 0) continue; // a keep-alive comment
          const field = (name: string) =>
            lines
              .filter((l) => l.startsWith(`${name}:`))
              .map((l) => l.slice(name.length + 1).replace(/^ /, ''))
              .join('\n');
          events.push({ event: field('event') || 'message', data: field('data') });
        }
      }
      ended = 'end';
    } catch {
      ended = 'error';
    }
  })();
  return {
    response,
    events,
    /** The payloads of the `next` events. */
    results: () => events.filter((e) => e.event === 'next').map((e) => JSON.parse(e.data) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] }),
    ended: () => ended,
    reading,
    close: () => abort.abort(),
  };
}

/** How many Redis connections are subscribed to a channel (our instances: one each at most). */
export async function redisSubscribers(channel: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    const [, count] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
    return Number(count);
  } finally {
    redis.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
