import type { ServerResponse } from 'node:http';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Context } from '../graphql/context.ts';
import { ErrorCode } from '../graphql/errors.ts';
import { closeWithin, CLOSE_GRACE_MS, CLOSE_SLOW_CONSUMER } from './close.ts';

/** What a subscription operation's context holds besides ours: the transport it runs on. */
type StreamContext = Context & { transport?: 'ws'; socket?: WebSocket; operationId?: string; res?: ServerResponse };

/**
 * Every subscription operation (websocket or SSE, whatever its field) becomes a tracked stream:
 *
 * - Its pub/sub subscriptions report their failure (SLOW_CONSUMER: more events waiting than the
 *   subscriber's buffer holds) to the stream, which ends with that error at once, even while
 *   the consumer is not pulling: a websocket is closed with 1013; an SSE stream answers the
 *   error then `complete` when its client reads again, and is cut after a grace period if it
 *   does not.
 * - An error thrown while the stream runs becomes a last result with that error, then the end:
 *   yoga would otherwise abort an SSE response without `complete`. Unexpected errors are logged
 *   and answered as "Unexpected error.".
 * - It is registered with its principal in `pubsub.streams`, so a revoked credential ends it
 *   (UNAUTHENTICATED, then `complete`) and server stop completes it.
 */
export function useLiveStreams(logger: Pick<Logger, 'info' | 'error'>): Plugin<Record<string, unknown>, Context> {
  return {
    onSubscribe({ args, extendContext }) {
      const context = args.contextValue as unknown as StreamContext;
      const stream = new LiveStream(context, logger);
      extendContext({ pubsub: context.pubsub.reporting((error) => stream.fail(error)) });
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(stream.attach(result as AsyncIterable<ExecutionResult>));
        },
      };
    },
  };
}

class LiveStream implements AsyncIterableIterator<ExecutionResult> {
  #inner: AsyncIterator<ExecutionResult> | undefined;
  #final: ExecutionResult | undefined;
  #state: 'open' | 'ending' | 'done' = 'open';
  #interrupt: (() => void) | undefined;
  #untrack: () => void = () => {};
  readonly #context: StreamContext;
  readonly #logger: Pick<Logger, 'info' | 'error'>;

  constructor(context: StreamContext, logger: Pick<Logger, 'info' | 'error'>) {
    this.#context = context;
    this.#logger = logger;
  }

  attach(source: AsyncIterable<ExecutionResult>): this {
    this.#inner = source[Symbol.asyncIterator]();
    if (this.#state !== 'open') void this.#inner.return?.();
    else this.#untrack = this.#context.pubsub.streams.add({ principal: this.#context.principal, end: (reason) => (reason ? this.fail(reason) : this.return()) });
    return this;
  }

  /** Ends the stream with `error`: the consumer's pending or next pull gets it, then the end. */
  fail(error: unknown): void {
    if (this.#state !== 'open') return;
    this.#state = 'ending';
    this.#untrack();
    const graphQLError = this.#asClientError(error);
    this.#final = { errors: [graphQLError] };
    void this.#inner?.return?.()?.catch?.(() => {});
    this.#wake();
    if (graphQLError.extensions.code === ErrorCode.SLOW_CONSUMER) this.#dropSlowConsumer();
    else this.#cutIfStuck();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.#final) {
      const value = this.#final;
      this.#final = undefined;
      this.#state = 'done';
      return Promise.resolve({ value, done: false });
    }
    const inner = this.#inner;
    if (this.#state !== 'open' || !inner) return Promise.resolve({ value: undefined, done: true });
    // One promise per pull, settled by whichever comes first: the inner stream's result, or an
    // interruption (fail/return), after which the inner result is ignored. (A Promise.race with
    // an interruption promise of its own cost two more promises and closures per idle socket.)
    return new Promise((resolve) => {
      let settled = false;
      const interrupt = () => {
        if (settled) return;
        settled = true;
        resolve(this.next());
      };
      this.#interrupt = interrupt;
      const settle = (take: () => Promise<IteratorResult<ExecutionResult>> | IteratorResult<ExecutionResult>) => {
        if (settled) return;
        settled = true;
        if (this.#interrupt === interrupt) this.#interrupt = undefined;
        resolve(take());
      };
      inner.next().then(
        (result) =>
          settle(() => {
            if (result.done) this.#finish();
            return result;
          }),
        (error: unknown) =>
          settle(() => {
            this.fail(error);
            return this.next();
          }),
      );
    });
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    if (this.#state === 'done') return { value: undefined, done: true };
    this.#final = undefined;
    this.#finish();
    this.#wake();
    await this.#inner?.return?.();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #finish() {
    this.#state = 'done';
    this.#untrack();
  }

  #wake() {
    const interrupt = this.#interrupt;
    this.#interrupt = undefined;
    interrupt?.();
  }

  /** Our own coded errors go to the client as they are; anything else is logged and masked. */
  #asClientError(error: unknown): GraphQLError {
    if (error instanceof GraphQLError && typeof error.extensions?.code === 'string') return error;
    this.#logger.error({ err: error }, 'A subscription failed');
    return createGraphQLError('Unexpected error.', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });
  }

  #dropSlowConsumer() {
    const { socket, res, operationId } = this.#context;
    if (this.#context.transport === 'ws' && socket) {
      if (socket.readyState !== socket.OPEN) return;
      this.#logger.info({ subscription: operationId }, 'Closing a websocket that reads too slowly');
      closeWithin(socket, CLOSE_SLOW_CONSUMER, 'Try again later: the client reads too slowly', CLOSE_GRACE_MS);
    } else if (res) {
      this.#logger.info('Ending an SSE subscription that reads too slowly');
      this.#cutIfStuck();
    }
  }

  /**
   * An SSE response whose client does not read keeps its error and `complete` unsent: past the
   * grace period its connection is cut (a websocket's closeWithin does the same).
   */
  #cutIfStuck() {
    const res = this.#context.res;
    if (this.#context.transport === 'ws' || !res) return;
    const timer = setTimeout(() => {
      if (!res.writableFinished) res.destroy();
    }, CLOSE_GRACE_MS);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
  }
}
