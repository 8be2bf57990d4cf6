import { createGraphQLError } from 'graphql-yoga';
import { ErrorCode } from '../graphql/errors.ts';

/** The events one subscription may hold for a consumer that has not taken them yet (default). */
export const DEFAULT_MAX_BUFFERED_EVENTS = 1_000;

/**
 * A subscriber fell more than `max` events behind. A GraphQLError with a code, so it reaches the
 * client as it is (not masked as an unexpected error).
 */
export function slowConsumer(max: number) {
  return createGraphQLError(
    `More than ${max} events are waiting for this subscriber: it reads too slowly. Resubscribe (inbox: with since = the last cursor you received)`,
    { extensions: { code: ErrorCode.SLOW_CONSUMER, max } },
  );
}

/**
 * One subscriber's events: a bounded queue between pub/sub (which pushes) and the subscription's
 * consumer (which pulls). push() never throws and never blocks: it runs inside the shared Redis
 * message handler, where a throw would reach every subscriber of the instance (and, uncaught,
 * end the process). One event too many ends this subscription alone: its queue is dropped, it
 * detaches from pub/sub, `onFail` is told (so the transport can close), and the consumer's next
 * pull gets the SLOW_CONSUMER error.
 */
export class Subscription<T> implements AsyncIterableIterator<T> {
  #queue: T[] = [];
  #head = 0;
  #waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #failure: Error | undefined;
  #done = false;
  readonly #max: number;
  readonly #detach: () => void;
  readonly #onFail: ((error: Error) => void) | undefined;
  readonly #accept: ((value: T) => boolean) | undefined;
  readonly #sink: ((value: T) => void) | undefined;

  constructor(options: {
    max: number;
    detach: () => void;
    onFail?: ((error: Error) => void) | undefined;
    filter?: ((value: T) => boolean) | undefined;
    sink?: ((value: T) => void) | undefined;
  }) {
    this.#max = options.max;
    this.#detach = options.detach;
    this.#onFail = options.onFail;
    this.#accept = options.filter;
    this.#sink = options.sink;
  }

  /** The most events it holds before it fails with SLOW_CONSUMER. */
  get max(): number {
    return this.#max;
  }

  /** Events held for the consumer. */
  get buffered(): number {
    return this.#queue.length - this.#head;
  }

  push(value: T): void {
    if (this.#done) return;
    // The filter runs here, so a narrowed subscription holds only the events it will deliver.
    if (this.#accept && !this.#accept(value)) return;
    // A consumer that buffers by itself (and bounds its buffer with max) takes events at once.
    if (this.#sink) {
      this.#sink(value);
      return;
    }
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ value, done: false });
      return;
    }
    if (this.buffered >= this.#max) {
      this.fail(slowConsumer(this.#max));
      return;
    }
    this.#queue.push(value);
  }

  /**
   * Ends the subscription with an error: what is buffered is dropped, the consumer's pending or
   * next pull rejects with it, later pulls are done.
   */
  fail(error: Error): void {
    if (this.#done) return;
    this.#finish();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting.reject(error);
    else this.#failure = error;
    try {
      this.#onFail?.(error);
    } catch {
      // Telling the transport is best effort; the subscription has ended either way.
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as T;
      // Compact now and then rather than shift() each time (O(n) on a long queue).
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = undefined;
      return Promise.reject(failure);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#done) this.#finish();
    this.#failure = undefined;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #finish() {
    this.#done = true;
    this.#queue = [];
    this.#head = 0;
    this.#detach();
  }
}
