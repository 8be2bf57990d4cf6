/** The bare graphql-transport-ws widget client of the realtime benches (fanout.ts, latency.ts). */
import WebSocket from 'ws';

/** Sockets the server closed after accepting them (code and reason), for the error report. */
export const closedAfterAck: string[] = [];

/** One widget: connection_init with `params`, then one subscription; `onEvent` gets each event's data. */
export function widget(url: string, params: Record<string, string>, query: string, onEvent: (data: unknown) => void): Promise<WebSocket> {
  let acked = false;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    socket.on('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: params })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: { data?: unknown; errors?: unknown } };
      if (message.type === 'connection_ack') {
        acked = true;
        socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query } }));
        resolve(socket);
      } else if (message.type === 'next') {
        if (message.payload?.errors) console.error('error event', JSON.stringify(message.payload.errors));
        onEvent(message.payload?.data);
      } else if (message.type === 'error') console.error('subscription error', JSON.stringify(message.payload));
    });
    socket.on('close', (code, reason) => {
      if (socket.readyState === WebSocket.CLOSED && acked) closedAfterAck.push(`${code} ${String(reason)}`);
      reject(new Error(`closed ${code}`));
    });
  });
}

/** A handshake reset by a loaded server (its accept backlog) is retried, as a browser would. */
export async function widgetWithRetry(url: string, params: Record<string, string>, query: string, onEvent: (data: unknown) => void): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await widget(url, params, query, onEvent);
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
