import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';

/**
 * How the console talks to Herald: queries and mutations over HTTP with `Authorization: Bearer`,
 * subscriptions over graphql-ws with the key in connection_init. The key lives in
 * sessionStorage only (one tab, gone when it closes), never in a URL.
 */

const STORAGE_KEY = 'herald.console.apiKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, key);
}

export interface InputIssue {
  field: string;
  message: string;
}

export class ConsoleError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly issues: InputIssue[] = [],
  ) {
    super(message);
  }
}

/** graphql-ws close code for refused or revoked credentials (src/realtime/websocket.ts). */
const CLOSE_FORBIDDEN = 4403;

/**
 * The request text of a document. The build (scripts/build-console.ts) replaces every graphql()
 * call with its generated document already printed, so no GraphQL printer ships in the bundle.
 */
function source(document: DocumentNode): string {
  if (typeof document !== 'string') throw new Error('graphql() documents are printed at build time: bundle with scripts/build-console.ts');
  return document;
}

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'refused';

export class ConsoleClient {
  private socket: Client | undefined;
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  state: LiveState = 'connecting';

  constructor(
    readonly apiKey: string,
    /** Called when Herald refuses the key (revoked while signed in): the app signs out. */
    private readonly onRefused: () => void,
    private readonly origin = location.origin,
  ) {}

  async request<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables: TVars): Promise<TData> {
    let response: Response;
    try {
      response = await fetch(new URL('/graphql', this.origin), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${this.apiKey}`,
        },
        body: JSON.stringify({ query: source(document), variables }),
      });
    } catch {
      throw new ConsoleError('Herald cannot be reached (network error)', 'NETWORK');
    }
    const body = (await response.json().catch(() => null)) as {
      data?: TData | null;
      errors?: { message: string; extensions?: { code?: string; issues?: InputIssue[] } }[];
    } | null;
    const error = body?.errors?.[0];
    if (error) {
      if (error.extensions?.code === 'UNAUTHENTICATED') this.onRefused();
      throw new ConsoleError(error.message, error.extensions?.code, error.extensions?.issues ?? []);
    }
    if (!response.ok || !body?.data) throw new ConsoleError(`Herald answered HTTP ${response.status}`);
    return body.data;
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  /** After the socket came back: events may have been missed, so pages reload what they show. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private setState(state: LiveState) {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  /** Opens the console's socket now (the shell does it once signed in), so the live state is real on every page. */
  connect(): void {
    this.ws();
  }

  /**
   * One socket per console, shared by the pages' subscriptions and kept open while signed in
   * (not lazy: a page without subscriptions still shows whether Herald is reachable, and a
   * revoked key closes it with 4403, which signs the console out); graphql-ws retries with backoff.
   */
  private ws(): Client {
    if (this.socket) return this.socket;
    const url = new URL('/graphql', this.origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let connectedOnce = false;
    this.socket = createClient({
      url: url.toString(),
      connectionParams: { apiKey: this.apiKey },
      lazy: false,
      retryAttempts: Number.MAX_SAFE_INTEGER,
      shouldRetry: (event) => !(typeof event === 'object' && event !== null && 'code' in event && event.code === CLOSE_FORBIDDEN),
      on: {
        connecting: () => this.setState(connectedOnce ? 'reconnecting' : 'connecting'),
        connected: () => {
          const retry = connectedOnce;
          connectedOnce = true;
          this.setState('live');
          if (retry) for (const listener of this.reconnectListeners) listener();
        },
        closed: (event) => {
          if (typeof event === 'object' && event !== null && 'code' in event && event.code === CLOSE_FORBIDDEN) {
            this.setState('refused');
            this.onRefused();
          } else if (this.state === 'live') this.setState('reconnecting');
        },
      },
    });
    return this.socket;
  }

  subscribe<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables: TVars, onData: (data: TData) => void): () => void {
    return this.ws().subscribe<TData>(
      { query: source(document), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          if (result.data) onData(result.data as TData);
        },
        error: () => {},
        complete: () => {},
      },
    );
  }

  close(): void {
    this.socket?.dispose();
    this.socket = undefined;
  }
}
