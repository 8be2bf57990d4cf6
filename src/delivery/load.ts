/**
 * Transactional work in flight in this process, which background work (a broadcast's fan-out and
 * its deliveries) yields to. A broadcast's chunk and its delivery batches share the event loop and
 * the database pool with the API: while a chunk renders 200 recipients or 20 delivery batches hold
 * the pool's connections, a `messages.send` waits behind them (measured: p99 187–235 ms during a
 * 100,000-user broadcast, 49–98 ms without). So background work takes turns:
 * - `quiet()` waits (bounded) until no transactional accept is in flight: before each chunk and
 *   between its steps (acceptAudienceChunk), before each background delivery batch and between its
 *   claim and its writes;
 * - `background()` lets at most a few background delivery batches run at once, so they cannot
 *   take every connection of the pool (BROADCAST_DELIVERY_CONCURRENCY).
 * The bound on `quiet()` keeps a broadcast moving under a steady stream of sends.
 */
export class TransactionalLoad {
  private inFlight = 0;
  private quietWaiters: (() => void)[] = [];
  private running = 0;
  private slotWaiters: (() => void)[] = [];

  constructor(
    private readonly options: {
      /** The longest quiet() waits (0: it never waits). */
      yieldMs: number;
      /** Background batches running at once. */
      backgroundConcurrency: number;
    },
  ) {}

  /** Runs a transactional accept (a send request): background work waits while any runs. */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn();
    } finally {
      if (--this.inFlight === 0) for (const wake of this.quietWaiters.splice(0)) wake();
    }
  }

  /** True while a transactional accept runs in this process. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Resolves once no transactional accept is in flight, or after yieldMs at most. */
  quiet(): Promise<void> {
    if (this.inFlight === 0 || this.options.yieldMs === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.yieldMs);
      const waiters = this.quietWaiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Runs one background batch: at most backgroundConcurrency at once, each after quiet(). */
  async background<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.backgroundConcurrency) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    else this.running++;
    try {
      await this.quiet();
      return await fn();
    } finally {
      // The slot passes to the next waiter as it is (running stays counted for it).
      const next = this.slotWaiters.shift();
      if (next) next();
      else this.running--;
    }
  }
}
