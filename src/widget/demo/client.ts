import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { graphql } from '../../generated/gql/index.ts';
import type { WidgetInboxEventsSubscription } from '../../generated/gql/graphql.ts';

/**
 * How the demo widget talks to Herald: queries and mutations over HTTP with the X-Herald-*
 * headers, the inbox subscription over graphql-ws with the same credentials in connection_init.
 * The `graphql()` calls below are replaced at build time by the generated document constants
 * (scripts/build-widget.ts), so the bundle carries these documents only.
 */

export const WidgetItem = graphql(`
  fragment WidgetItem on InboxItem {
    id
    title
    body
    stackCount
    createdAt
    readAt
    archivedAt
  }
`);

const WidgetInbox = graphql(`
  query WidgetInbox($first: Int!) {
    inbox(first: $first) {
      edges {
        node {
          ...WidgetItem
        }
      }
    }
    unreadCount
  }
`);

const WidgetInboxEvents = graphql(`
  subscription WidgetInboxEvents($since: String) {
    inbox(since: $since) {
      cursor
      type
      at
      unreadCount
      item {
        ...WidgetItem
      }
    }
  }
`);

const WidgetInboxCursor = graphql(`
  query WidgetInboxCursor {
    inboxCursor
  }
`);

const WidgetMarkRead = graphql(`
  mutation WidgetMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);

const WidgetMarkAllRead = graphql(`
  mutation WidgetMarkAllRead {
    markAllRead
  }
`);

const WidgetArchive = graphql(`
  mutation WidgetArchive($ids: [ID!]!) {
    archive(ids: $ids) {
      unreadCount
    }
  }
`);

export type InboxEvent = WidgetInboxEventsSubscription['inbox'];

/**
 * The end user's widget credentials. A real application computes `userHash` on its backend
 * (HMAC-SHA256 of the user's id keyed by the project's widget secret) and hands it to the page;
 * the secret itself must never reach a browser.
 */
export interface WidgetCredentials {
  projectId: string;
  userId: string;
  userHash: string;
}

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'forbidden';

/** graphql-ws close code for refused credentials (src/realtime/websocket.ts). */
const CLOSE_FORBIDDEN = 4403;
/** Browser close code for a socket that never opened or dropped without a close frame. */
const CLOSE_ABNORMAL = 1006;

export class HeraldError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const printed = new WeakMap<DocumentNode, string>();
function source(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) printed.set(document, (text = print(document)));
  return text;
}

export class HeraldWidgetClient {
  constructor(
    private readonly origin: string,
    private readonly credentials: WidgetCredentials,
  ) {}

  /** The cursor of the user's latest inbox event: read before the first snapshot, it is the subscription's first `since`. */
  async cursor(): Promise<string> {
    return (await this.request(WidgetInboxCursor, {})).inboxCursor;
  }

  snapshot(first: number) {
    return this.request(WidgetInbox, { first });
  }

  markRead(id: string) {
    return this.request(WidgetMarkRead, { ids: [id] });
  }

  markAllRead() {
    return this.request(WidgetMarkAllRead, {});
  }

  archive(id: string) {
    return this.request(WidgetArchive, { ids: [id] });
  }

  private async request<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables: TVars): Promise<TData> {
    const response = await fetch(new URL('/graphql', this.origin), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        'x-herald-project': this.credentials.projectId,
        'x-herald-user': this.credentials.userId,
        'x-herald-user-hash': this.credentials.userHash,
      },
      body: JSON.stringify({ query: source(document), variables }),
    });
    const body = (await response.json().catch(() => null)) as { data?: TData | null; errors?: { message: string; extensions?: { code?: string } }[] } | null;
    const error = body?.errors?.[0];
    if (error) throw new HeraldError(error.message, error.extensions?.code);
    if (!response.ok || !body?.data) throw new HeraldError(`Herald answered HTTP ${response.status}`);
    return body.data;
  }

  /**
   * Keeps the inbox subscription open until `close()`. Every (re)subscription asks for the events
   * after `since()`, the last cursor the caller has applied, so a dropped socket replays what it
   * missed instead of leaving a gap. graphql-ws's own retry would resend the first variables, so
   * each connection is a fresh client with retries off and the loop here does the backing off.
   */
  live(handlers: {
    since: () => string | null;
    onEvent: (event: InboxEvent) => void;
    /** An event the server could not resolve: its cursor is unknown, so the caller must resync. */
    onEventError: (message: string) => void;
    onState: (state: ConnectionState, detail?: string) => void;
    /** Called on every acknowledged connection; `retry` is false for the first one. */
    onConnected?: (retry: boolean) => void;
  }): { close(): void } {
    const url = new URL('/graphql', this.origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let client: Client | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    let connectedOnce = false;
    let failures = 0;

    const retryLater = (detail: string) => {
      client?.dispose();
      client = undefined;
      if (closed) return;
      handlers.onState('reconnecting', detail);
      // Capped exponential backoff with jitter, so many widgets do not return in lockstep after an outage.
      const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
      failures++;
      timer = setTimeout(open, delay);
    };

    const open = () => {
      if (closed) return;
      handlers.onState(connectedOnce ? 'reconnecting' : 'connecting');
      const current = createClient({
        url: url.toString(),
        connectionParams: { ...this.credentials },
        lazy: true,
        retryAttempts: 0,
        on: {
          connected: () => {
            failures = 0;
            const retry = connectedOnce;
            connectedOnce = true;
            handlers.onState('live');
            handlers.onConnected?.(retry);
          },
        },
      });
      client = current;
      current.subscribe<WidgetInboxEventsSubscription>(
        { query: source(WidgetInboxEvents), variables: { since: handlers.since() } },
        {
          next: (result) => {
            if (result.data) handlers.onEvent(result.data.inbox);
            else handlers.onEventError(result.errors?.map((e) => e.message).join('; ') ?? 'empty event');
          },
          error: (error) => {
            if (client !== current) return;
            const code = closeCode(error);
            if (code === CLOSE_FORBIDDEN) {
              closed = true;
              current.dispose();
              handlers.onState('forbidden', 'Herald refused these credentials (check projectId, userId and userHash)');
              return;
            }
            retryLater(code === undefined ? errorMessage(error) : `socket closed (${code === CLOSE_ABNORMAL ? 'connection lost' : code})`);
          },
          // The server ends the stream only when it gives up on it (a slow consumer): resubscribe.
          complete: () => {
            if (client === current) retryLater('subscription ended by the server');
          },
        },
      );
    };

    open();
    return {
      close() {
        closed = true;
        clearTimeout(timer);
        client?.dispose();
      },
    };
  }
}

function closeCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number' ? error.code : undefined;
}

function errorMessage(error: unknown): string {
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  return error instanceof Error ? error.message : String(error);
}
