import type { WebSocket } from 'ws';

/** graphql-ws close code for a refused connection_init (the protocol's "Forbidden"), or credentials revoked. */
export const CLOSE_FORBIDDEN = 4403;
/** graphql-ws close code for a socket that sent no connection_init in time. */
export const CLOSE_INIT_TIMEOUT = 4408;
/**
 * A slow consumer: the socket held more than maxBufferedBytes unsent when the next message was
 * due, or one of its subscriptions fell more events behind than its buffer holds. RFC 6455's
 * "Try Again Later", which graphql-ws clients retry; resubscribing with `since` loses nothing.
 */
export const CLOSE_SLOW_CONSUMER = 1013;
/** Server shutdown. */
export const CLOSE_GOING_AWAY = 1001;

/** How long a closed socket (or an ended SSE response) gets to flush before it is cut. */
export const CLOSE_GRACE_MS = 10_000;

/**
 * close() waits for the peer's close frame, which a dead or stalled peer never sends (ws would
 * wait 30 s, and the socket's subscriptions with it).
 */
export function closeWithin(socket: WebSocket, code: number, reason: string, graceMs: number) {
  socket.close(code, reason);
  const timer = setTimeout(() => socket.terminate(), graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
