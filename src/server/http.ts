import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HeraldPubSub } from '../realtime/pubsub.ts';
import { watchCredentials } from '../realtime/revocation.ts';
import { attachWebSocketServer, type WebSocketOptions } from '../realtime/websocket.ts';
import type { HeraldYoga } from './app.ts';

export interface RunningServer {
  server: Server;
  port: number;
  /** Websocket connections open now (the /metrics gauge). */
  openWebSockets(): number;
  /** Stops accepting, lets in-flight requests finish (up to timeoutMs), closes every socket. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * The port cannot be had (in use, or privileged): a mistake in the set-up, not a bug, so its
 * message is one line naming the port and the variable that changes it, and has no stack.
 */
export class ListenError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'ListenError';
  }

  static from(error: NodeJS.ErrnoException, host: string, port: number): Error {
    const where = `${host}:${port}`;
    if (error.code === 'EADDRINUSE') {
      return new ListenError(`Port ${port} is already in use (${where}): stop the process using it, or set PORT to another port (PORT=0 picks a free one).`, error.code);
    }
    if (error.code === 'EACCES') {
      return new ListenError(`Not allowed to listen on port ${port} (${where}): set PORT to a port above 1023, or grant the permission.`, error.code);
    }
    if (error.code === 'EADDRNOTAVAIL') {
      return new ListenError(`Cannot listen on ${where}: HOST is not an address of this machine (set HOST, e.g. 0.0.0.0 or 127.0.0.1).`, error.code);
    }
    return error;
  }
}

export async function listen(
  yoga: HeraldYoga,
  pubsub: HeraldPubSub,
  logger: Logger,
  host: string,
  port: number,
  webSocket: WebSocketOptions,
): Promise<RunningServer> {
  const server = createServer(yoga);
  let stopping = false;
  // A keep-alive connection busy when stop begins would otherwise stay open, idle, until the
  // client's own idle timeout, and server.close() with it: once stopping, a connection closes as
  // soon as its response is done (an SSE response is done once its subscription has ended).
  server.on('request', (req, res) => res.once('close', () => stopping && req.socket.end()));
  // An answer sent before its request body was read (a 413, or any early refusal) leaves the rest
  // of the body on the connection: the next request on it would be parsed from the middle of it,
  // and hung until the socket timed out (ECONNRESET after 6 s). Such answers say `Connection:
  // close` (the 413s do); this ends the connection in any case once the answer is out.
  server.on('request', (req, res) => {
    const socket = req.socket;
    res.once('finish', () => !req.complete && socket.destroySoon());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(ListenError.from(error, host, port)));
    server.listen(port, host, () => resolve());
  });
  // Attached once listening: the websocket server re-emits the HTTP server's errors, and a
  // refused port would otherwise print graphql-ws's "Internal error" with a stack. Nothing can
  // connect in between: this runs in the same tick as the 'listening' callback.
  const ws = attachWebSocketServer(server, yoga, pubsub, { logger, ...webSocket });
  const credentials = watchCredentials(pubsub, { recheckMs: webSocket.recheckMs, logger });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ host, port: bound }, `Herald listening on http://${host === '0.0.0.0' ? 'localhost' : host}:${bound}/graphql`);
  return {
    server,
    port: bound,
    openWebSockets: () => ws.wss.clients.size,
    async stop(timeoutMs) {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // close() stops accepting and closes idle keep-alive sockets; busy ones end after their response.
      server.closeIdleConnections();
      // Subscriptions end first (SSE responses with `complete`), so no stream outlives Redis or
      // the database and no SSE response holds the server open until the timeout.
      await credentials.stop();
      await pubsub.streams.endAll();
      await ws.close(timeoutMs);
      const timer = setTimeout(() => {
        logger.warn('In-flight requests did not finish in time: closing their connections');
        server.closeAllConnections();
      }, timeoutMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
