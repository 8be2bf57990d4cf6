/**
 * The subscription streams open in one Herald (websocket and SSE alike). Stopping the server
 * ends them all and waits for them before Redis and the database close: otherwise a stream
 * would keep its Redis subscription, fire a catch-up read into a closed database, or hold an
 * SSE response open until the shutdown timeout cuts it.
 */
export class LiveStreams {
  readonly #open = new Set<() => Promise<unknown>>();
  #ending = false;

  /**
   * Registers how to end a stream; returns what unregisters it (call it when the stream ends by
   * itself). A stream opened while the server stops is ended at once.
   */
  add(end: () => Promise<unknown>): () => void {
    if (this.#ending) {
      void end().catch(() => {});
      return () => {};
    }
    this.#open.add(end);
    return () => this.#open.delete(end);
  }

  /** Ends every open stream and waits until each has stopped. */
  async endAll(): Promise<void> {
    this.#ending = true;
    const ends = [...this.#open];
    this.#open.clear();
    // A stream that fails while ending has ended all the same.
    await Promise.allSettled(ends.map((end) => end()));
  }
}
