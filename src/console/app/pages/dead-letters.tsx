/** @jsxImportSource preact */
import { useEffect, useState } from 'preact/hooks';
import type { ConsoleMessageFieldsFragment } from '../../../generated/gql/graphql.ts';
import type { ConsoleError } from '../client.ts';
import { ConsoleMessage, ConsoleMessages, ConsoleMessageStatus, ConsoleNotifications, ConsoleRetryFailed, ConsoleRetryMessage } from '../documents.ts';
import { asConsoleError, CHANNELS, ErrorNotice, Page, useAsync, useClient } from '../ui.tsx';
import { MessageTable } from './activity.tsx';

type Row = ConsoleMessageFieldsFragment;
const LIMIT = 100;

/**
 * FAILED messages (the dead letters), live: a message that fails appears, a retried one shows its
 * new status until it settles. Retry one (retryMessage) or every one matching the filter (retryFailed).
 */
export function DeadLettersPage() {
  const client = useClient();
  const [rows, setRows] = useState<Row[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<ConsoleError | null>(null);
  const [done, setDone] = useState('');
  const [channel, setChannel] = useState('');
  const [notification, setNotification] = useState('');
  const [tick, setTick] = useState(0);
  const notifications = useAsync(() => client.request(ConsoleNotifications, {}), [client]);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const data = await client.request(ConsoleMessages, { last: LIMIT, filter: { status: ['FAILED'] } });
        if (stopped) return;
        setRows(data.messages.edges.map((e) => e.node).reverse());
        setTotal(data.messages.totalCount);
      } catch (caught) {
        if (!stopped) setError(asConsoleError(caught));
      }
    };
    const unsubscribe = client.subscribe(ConsoleMessageStatus, {}, async ({ messageStatus: e }) => {
      if (e.status === 'FAILED') {
        try {
          const { message } = await client.request(ConsoleMessage, { id: e.messageId });
          if (stopped) return;
          setRows((current) => [message, ...current.filter((r) => r.id !== message.id)]);
        } catch {
          // It is listed at the next load.
        }
      } else setRows((current) => current.map((r) => (r.id === e.messageId ? { ...r, status: e.status, lastError: e.error ?? r.lastError } : r)));
    });
    const off = client.onReconnect(() => void load());
    void load();
    return () => {
      stopped = true;
      unsubscribe();
      off();
    };
  }, [client, tick]);

  const retryOne = async (row: Row) => {
    setError(null);
    try {
      const { retryMessage } = await client.request(ConsoleRetryMessage, { id: row.id });
      setRows((current) => current.map((r) => (r.id === row.id ? retryMessage : r)));
      setDone(`Message ${row.id} queued again`);
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  const retryAll = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const { retryFailed } = await client.request(ConsoleRetryFailed, { channel: channel || null, notificationId: notification ? Number(notification) : null });
      setDone(`${retryFailed} ${retryFailed === 1 ? 'message' : 'messages'} queued again`);
      setTick((t) => t + 1);
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  const failed = rows.filter((r) => r.status === 'FAILED').length;
  return (
    <Page title="Dead letters">
      <p>Messages that failed for good (a permanent error, or every attempt of every provider). A retry sends one again with a fresh attempt budget.</p>
      <form class="filters" aria-label="Retry every failed message" onSubmit={retryAll}>
        <div class="field">
          <label for="dl-channel">Channel</label>
          <select id="dl-channel" value={channel} onChange={(e) => setChannel((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {CHANNELS.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="dl-notification">Notification</label>
          <select id="dl-notification" value={notification} onChange={(e) => setNotification((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {notifications.data?.notifications.edges.map(({ node: n }) => (
              <option value={String(n.id)}>{n.name}</option>
            ))}
          </select>
        </div>
        <button type="submit" data-testid="retry-all">
          Retry all matching
        </button>
      </form>
      <p role="status" data-testid="retry-result">
        {done}
      </p>
      <ErrorNotice error={error} />
      <h2>
        Failed messages <span class="muted">{total === null ? '' : `(${failed} failed shown of ${total})`}</span>
      </h2>
      {total === null && !error ? (
        <p role="status">Loading…</p>
      ) : rows.length === 0 ? (
        <p data-testid="dead-letters-empty">No dead letters.</p>
      ) : (
        <MessageTable
          rows={rows}
          actions={(row) =>
            row.status === 'FAILED' ? (
              <button type="button" data-testid="retry-one" onClick={() => retryOne(row)} aria-label={`Retry message ${row.id}`}>
                Retry
              </button>
            ) : (
              <span>Retried</span>
            )
          }
        />
      )}
    </Page>
  );
}
