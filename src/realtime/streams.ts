import { unauthenticated } from '../graphql/errors.ts';
import type { Principal } from '../modules/projects/auth.ts';

/** One long-lived stream: a subscription (SSE or websocket) or a websocket connection. */
export interface StreamEntry {
  /** Whose credentials keep it open (null: none were needed). */
  principal: Principal | null;
  /**
   * Ends it. Without a reason: the server is stopping (a subscription completes; a socket is
   * left to the websocket server's own close). With one: its credentials stopped being valid.
   */
  end(reason?: Error): Promise<unknown> | void;
}

/**
 * The long-lived streams open in one Herald (websocket and SSE alike). Stopping the server
 * ends them all and waits for them before Redis and the database close: otherwise a stream
 * would keep its subscription, fire a catch-up read into a closed database, or hold an SSE
 * response open until the shutdown timeout cuts it. Credentials that stop being valid (a key
 * revoked, a widget secret rotated, a user deleted) end the streams they opened.
 */
export class LiveStreams {
  readonly #open = new Set<StreamEntry>();
  #ending = false;

  /**
   * Registers a stream; returns what unregisters it (call it when the stream ends by itself).
   * A stream opened while the server stops is ended at once.
   */
  add(entry: StreamEntry): () => void {
    if (this.#ending) {
      void Promise.resolve(entry.end()).catch(() => {});
      return () => {};
    }
    this.#open.add(entry);
    const expiry = this.#endAtExpiry(entry);
    return () => {
      if (expiry) clearTimeout(expiry);
      this.#open.delete(entry);
    };
  }

  /**
   * A principal from a signed widget token is valid until the token's `exp`: its stream ends
   * then (a websocket with 4403, SSE with UNAUTHENTICATED), and the widget signs in again.
   */
  #endAtExpiry(entry: StreamEntry): ReturnType<typeof setTimeout> | undefined {
    const expiresAt = entry.principal?.kind === 'endUser' ? entry.principal.expiresAt : undefined;
    if (expiresAt === undefined) return undefined;
    const timer = setTimeout(() => {
      if (!this.#open.delete(entry)) return;
      try {
        void Promise.resolve(entry.end(unauthenticated('The credentials of this stream are no longer valid: token expired'))).catch(() => {});
      } catch {
        // Ended all the same: it is no longer tracked.
      }
    }, Math.max(0, expiresAt - Date.now()));
    timer.unref();
    return timer;
  }

  get size(): number {
    return this.#open.size;
  }

  /** The principals of the open streams (each once per stream). */
  principals(): Principal[] {
    const list: Principal[] = [];
    for (const entry of this.#open) if (entry.principal) list.push(entry.principal);
    return list;
  }

  /** Ends, with `reason`, every stream whose principal matches; answers how many. */
  revoke(matches: (principal: Principal) => boolean, reason: Error): number {
    let ended = 0;
    for (const entry of [...this.#open]) {
      if (!entry.principal || !matches(entry.principal)) continue;
      this.#open.delete(entry);
      ended++;
      try {
        void Promise.resolve(entry.end(reason)).catch(() => {});
      } catch {
        // Ended all the same: it is no longer tracked.
      }
    }
    return ended;
  }

  /** Ends every open stream and waits until each has stopped. */
  async endAll(): Promise<void> {
    this.#ending = true;
    const entries = [...this.#open];
    this.#open.clear();
    // A stream that fails while ending has ended all the same.
    await Promise.allSettled(entries.map(async (entry) => entry.end()));
  }
}
