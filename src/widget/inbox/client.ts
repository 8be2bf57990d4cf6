import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { graphql } from '../../generated/gql/index.ts';
import type { HeraldInboxEventsSubscription, HeraldInboxItemFragment, InboxFilter } from '../../generated/gql/graphql.ts';

/**
 * How <herald-inbox> talks to Herald: queries and mutations over HTTP with the X-Herald-*
 * headers, the inbox subscription over graphql-ws with the same credentials in connection_init.
 * The `graphql()` calls are replaced at build time by the generated document constants
 * (scripts/build-widget.ts), so the bundle carries these documents only.
 */

export const HeraldInboxItem = graphql(`
  fragment HeraldInboxItem on InboxItem {
    id
    title
    body
    icon
    redirection
    actions
    category
    stackCount
    createdAt
    seenAt
    readAt
    archivedAt
  }
`);

const HeraldInboxPage = graphql(`
  query HeraldInboxPage($first: Int!, $after: String, $filter: InboxFilter) {
    inbox(first: $first, after: $after, filter: $filter) {
      edges {
        node {
          ...HeraldInboxItem
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
    unreadCount
  }
`);

const HeraldInboxEvents = graphql(`
  subscription HeraldInboxEvents($since: String) {
    inbox(since: $since) {
      cursor
      type
      at
      unreadCount
      itemId
      item {
        ...HeraldInboxItem
      }
    }
  }
`);

const HeraldInboxCursor = graphql(`
  query HeraldInboxCursor {
    inboxCursor
  }
`);

const HeraldInboxMarkRead = graphql(`
  mutation HeraldInboxMarkRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);

const HeraldInboxMarkUnread = graphql(`
  mutation HeraldInboxMarkUnread($ids: [ID!]!) {
    markUnread(ids: $ids) {
      unreadCount
    }
  }
`);

const HeraldInboxMarkSeen = graphql(`
  mutation HeraldInboxMarkSeen($ids: [ID!]!) {
    markSeen(ids: $ids) {
      unreadCount
    }
  }
`);

const HeraldInboxMarkAllRead = graphql(`
  mutation HeraldInboxMarkAllRead($category: String) {
    markAllRead(category: $category)
  }
`);

const HeraldInboxArchive = graphql(`
  mutation HeraldInboxArchive($ids: [ID!]!) {
    archive(ids: $ids) {
      unreadCount
    }
  }
`);

const HeraldInboxUnarchive = graphql(`
  mutation HeraldInboxUnarchive($ids: [ID!]!) {
    unarchive(ids: $ids) {
      unreadCount
    }
  }
`);

const HeraldInboxDelete = graphql(`
  mutation HeraldInboxDelete($ids: [ID!]!) {
    deleteItems(ids: $ids) {
      unreadCount
    }
  }
`);

const HeraldInboxPerformAction = graphql(`
  mutation HeraldInboxPerformAction($id: ID!, $actionId: String!) {
    performAction(id: $id, actionId: $actionId) {
      action
    }
  }
`);

export type Item = HeraldInboxItemFragment;
export type InboxEvent = HeraldInboxEventsSubscription['inbox'];
export type { InboxFilter };

/**
 * The end user's credentials, made by the host app's backend: either the userHash (hex
 * HMAC-SHA256 of the externalId keyed by the widget secret) or a short-lived JWT (HS256 with
 * the widget secret; claims sub, projectId, exp). The secret itself never reaches a browser.
 */
export type Credentials = { kind: 'hash'; projectId: string; userId: string; userHash: string } | { kind: 'token'; token: string };

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'refused';

/** graphql-ws close code for refused credentials (src/realtime/websocket.ts). */
const CLOSE_FORBIDDEN = 4403;
const CLOSE_ABNORMAL = 1006;

export class HeraldError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }

  /** The credentials were refused (or are rate limited): retrying the same ones will not help. */
  get isAuth(): boolean {
    return this.code === 'UNAUTHENTICATED' || this.code === 'FORBIDDEN' || this.code === 'RATE_LIMITED';
  }
}

/**
 * The request text of a document. The build (scripts/build-widget.ts) replaces every graphql()
 * call with its generated document already printed, so no GraphQL printer ships in the bundle.
 */
function source(document: DocumentNode): string {
  if (typeof document !== 'string') throw new Error('graphql() documents are printed at build time: bundle with scripts/build-widget.ts');
  return document;
}

/** The `exp` of a JWT (ms), read without verifying it: only to tell "expired" from "refused". */
export function tokenExpiry(token: string): number | null {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

export class HeraldClient {
  constructor(
    private readonly origin: string,
    private readonly credentials: Credentials,
  ) {}

  private headers(): Record<string, string> {
    const c = this.credentials;
    return c.kind === 'token'
      ? { 'x-herald-user-token': c.token }
      : { 'x-herald-project': c.projectId, 'x-herald-user': c.userId, 'x-herald-user-hash': c.userHash };
  }

  private connectionParams(): Record<string, string> {
    const c = this.credentials;
    return c.kind === 'token' ? { userToken: c.token } : { projectId: c.projectId, userId: c.userId, userHash: c.userHash };
  }

  /** The cursor of the user's latest inbox event: read before the first page, it is the subscription's first `since`. */
  async cursor(): Promise<string> {
    return (await this.request(HeraldInboxCursor, {})).inboxCursor;
  }

  page(first: number, after: string | null, filter: InboxFilter) {
    return this.request(HeraldInboxPage, { first, after, filter });
  }

  markRead = (ids: string[]) => this.request(HeraldInboxMarkRead, { ids });
  markUnread = (ids: string[]) => this.request(HeraldInboxMarkUnread, { ids });
  markSeen = (ids: string[]) => this.request(HeraldInboxMarkSeen, { ids });
  archive = (ids: string[]) => this.request(HeraldInboxArchive, { ids });
  unarchive = (ids: string[]) => this.request(HeraldInboxUnarchive, { ids });
  deleteItems = (ids: string[]) => this.request(HeraldInboxDelete, { ids });
  markAllRead = (category: string | null) => this.request(HeraldInboxMarkAllRead, { category });
  performAction = (id: string, actionId: string) => this.request(HeraldInboxPerformAction, { id, actionId });

  private async request<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables: TVars): Promise<TData> {
    let response: Response;
    try {
      response = await fetch(new URL('/graphql', this.origin), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...this.headers() },
        body: JSON.stringify({ query: source(document), variables }),
      });
    } catch {
      throw new HeraldError('Herald cannot be reached', 'NETWORK');
    }
    const body = (await response.json().catch(() => null)) as { data?: TData | null; errors?: { message: string; extensions?: { code?: string } }[] } | null;
    const error = body?.errors?.[0];
    if (error) throw new HeraldError(error.message, error.extensions?.code);
    if (!response.ok || !body?.data) throw new HeraldError(`Herald answered HTTP ${response.status}`);
    return body.data;
  }

  /**
   * Keeps the inbox subscription open until `close()`. Every (re)subscription asks for the events
   * after `since()`, the last cursor the caller applied, so a dropped socket replays what it
   * missed instead of leaving a gap. graphql-ws's own retry would resend the first variables, so
   * each connection is a fresh client with retries off and this loop does the backing off.
   */
  live(handlers: {
    since: () => string | null;
    onEvent: (event: InboxEvent) => void;
    /** An event the server could not resolve: its cursor is unknown, so the caller must resync. */
    onEventError: (message: string) => void;
    onState: (state: ConnectionState, detail?: string) => void;
  }): { close(): void; retryNow(): void } {
    const url = new URL('/graphql', this.origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let client: Client | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    let failures = 0;

    const retryLater = (detail: string) => {
      client?.dispose();
      client = undefined;
      if (closed) return;
      handlers.onState('reconnecting', detail);
      // Capped exponential backoff with jitter, so many widgets do not return in lockstep after an outage.
      const delay = Math.min(15_000, 250 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
      failures++;
      timer = setTimeout(open, delay);
    };

    const open = () => {
      timer = undefined;
      if (closed) return;
      const current = createClient({
        url: url.toString(),
        connectionParams: this.connectionParams(),
        lazy: true,
        retryAttempts: 0,
        on: {
          connected: () => {
            failures = 0;
            handlers.onState('live');
          },
        },
      });
      client = current;
      current.subscribe<HeraldInboxEventsSubscription>(
        { query: source(HeraldInboxEvents), variables: { since: handlers.since() } },
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
              handlers.onState('refused', closeReason(error));
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
      /** The browser says it is online again: skip the rest of the backoff. */
      retryNow() {
        if (closed || timer === undefined) return;
        clearTimeout(timer);
        open();
      },
    };
  }
}

function closeCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number' ? error.code : undefined;
}

function closeReason(error: unknown): string {
  return typeof error === 'object' && error !== null && 'reason' in error && typeof error.reason === 'string' ? error.reason : '';
}

function errorMessage(error: unknown): string {
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  return error instanceof Error ? error.message : String(error);
}
