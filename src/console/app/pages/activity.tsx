/** @jsxImportSource preact */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleMessageFieldsFragment, ConsoleMessageStatusSubscription, MessageFilter, MessageStatus } from '../../../generated/gql/graphql.ts';
import { ConsoleMessage, ConsoleMessages, ConsoleMessageStatus, ConsoleNotifications, ConsoleRetryMessage, ConsoleUserId } from '../documents.ts';
import { asConsoleError, CHANNELS, ErrorNotice, href, Page, shortId, STATUSES, StatusBadge, Time, useAsync, useClient } from '../ui.tsx';
import type { ConsoleError } from '../client.ts';

type Row = ConsoleMessageFieldsFragment;
type MessageStatusEvent = ConsoleMessageStatusSubscription['messageStatus'];

/** A row after one status event (events come in order: the last one is the message's status). */
const withEvent = (r: Row, e: MessageStatusEvent): Row => ({ ...r, status: e.status, attempts: Math.max(r.attempts, e.attempt), lastError: e.error ?? r.lastError });

const PAGE_SIZE = 50;

interface Filters {
  status: string;
  channel: string;
  user: string;
  notification: string;
}

/** Newest first: message ids are uuidv7, so their text order is their creation order. */
const newestFirst = (a: Row, b: Row) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * Messages of the project, newest first, kept live by the messageStatus subscription: a new
 * message is fetched once when its first event arrives, a known one is updated from the event.
 * After a reconnect the list is reloaded (the subscription has no replay).
 */
export function ActivityPage({ id, params }: { id: string | undefined; params: URLSearchParams }) {
  const client = useClient();
  const [filters, setFilters] = useState<Filters>({ status: params.get('status') ?? '', channel: params.get('channel') ?? '', user: params.get('user') ?? '', notification: params.get('notification') ?? '' });
  const [rows, setRows] = useState<Row[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<ConsoleError | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [announce, setAnnounce] = useState('');
  const [timelineTick, setTimelineTick] = useState(0);
  const notifications = useAsync(() => client.request(ConsoleNotifications, {}), [client]);
  const openId = useRef(id);
  openId.current = id;

  useEffect(() => {
    let stopped = false;
    let unsubscribe: (() => void) | undefined;
    const seen = new Set<string>();
    // Events of a message whose row is being fetched: applied, in order, once it is in the list
    // (a DELIVERED that arrives during the fetch would otherwise find no row and be lost).
    const arriving = new Map<string, MessageStatusEvent[]>();
    const start = async () => {
      setLoaded(false);
      setError(null);
      let userId: string | null = null;
      const who = filters.user.trim();
      if (who) {
        try {
          const isHeraldId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(who);
          userId = (await client.request(ConsoleUserId, isHeraldId ? { id: who } : { externalId: who })).user.id;
        } catch (caught) {
          if (!stopped) {
            setError(asConsoleError(caught));
            setRows([]);
            setTotal(0);
            setLoaded(true);
          }
          return;
        }
      }
      const notificationId = filters.notification ? Number(filters.notification) : null;
      const filter: MessageFilter = {
        ...(filters.status ? { status: [filters.status as MessageStatus] } : {}),
        ...(filters.channel ? { channel: filters.channel } : {}),
        ...(userId ? { userId } : {}),
        ...(notificationId !== null ? { notificationId } : {}),
      };
      const matches = (m: { status: string; channel: string; userId?: string | null; notificationId?: number | null }) =>
        (!filters.status || m.status === filters.status) &&
        (!filters.channel || m.channel === filters.channel) &&
        (!userId || m.userId === userId) &&
        (notificationId === null || m.notificationId === notificationId);
      const load = async () => {
        try {
          const data = await client.request(ConsoleMessages, { last: PAGE_SIZE, filter });
          if (stopped) return;
          const list = data.messages.edges.map((e) => e.node).sort(newestFirst);
          for (const m of list) seen.add(m.id);
          setRows(list);
          setTotal(data.messages.totalCount);
          setLoaded(true);
        } catch (caught) {
          if (!stopped) {
            setError(asConsoleError(caught));
            setLoaded(true);
          }
        }
      };
      // Subscribe before the first load, so nothing committed in between is missed (a duplicate is merged by id).
      unsubscribe = client.subscribe(ConsoleMessageStatus, { notificationId, userId }, async ({ messageStatus: e }) => {
        if (e.messageId === openId.current) setTimelineTick((t) => t + 1);
        const waiting = arriving.get(e.messageId);
        if (waiting) {
          waiting.push(e);
          return;
        }
        if (!seen.has(e.messageId)) {
          if (!matches(e)) return;
          seen.add(e.messageId);
          arriving.set(e.messageId, []);
          try {
            const { message } = await client.request(ConsoleMessage, { id: e.messageId });
            if (stopped) return;
            const row = (arriving.get(e.messageId) ?? []).reduce(withEvent, message);
            setRows((current) => (current.some((r) => r.id === row.id) ? current : [row, ...current].sort(newestFirst).slice(0, PAGE_SIZE * 2)));
            setTotal((t) => (t === null ? t : t + 1));
            setAnnounce(`New ${message.channel} message, ${message.status}`);
          } catch {
            seen.delete(e.messageId);
          } finally {
            arriving.delete(e.messageId);
          }
          return;
        }
        setRows((current) => current.map((r) => (r.id === e.messageId ? withEvent(r, e) : r)).filter((r) => r.id !== e.messageId || matches(r)));
      });
      await load();
      const off = client.onReconnect(() => void load());
      const previous = unsubscribe;
      unsubscribe = () => {
        off();
        previous();
      };
    };
    void start();
    return () => {
      stopped = true;
      unsubscribe?.();
    };
  }, [client, filters]);

  const set = (name: keyof Filters) => (event: Event) => setFilters((f) => ({ ...f, [name]: (event.target as HTMLInputElement | HTMLSelectElement).value }));
  const [userDraft, setUserDraft] = useState(filters.user);

  return (
    <Page title="Activity">
      <form class="filters" aria-label="Filter messages" onSubmit={(e) => (e.preventDefault(), setFilters((f) => ({ ...f, user: userDraft })))}>
        <div class="field">
          <label for="f-status">Status</label>
          <select id="f-status" value={filters.status} onChange={set('status')} data-testid="filter-status">
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-channel">Channel</label>
          <select id="f-channel" value={filters.channel} onChange={set('channel')} data-testid="filter-channel">
            <option value="">Any</option>
            {CHANNELS.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-notification">Notification</label>
          <select id="f-notification" value={filters.notification} onChange={set('notification')} data-testid="filter-notification">
            <option value="">Any</option>
            {notifications.data?.notifications.edges.map(({ node: n }) => (
              <option value={String(n.id)}>{n.key ? `${n.name} (${n.key})` : n.name}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-user">User (externalId or Herald id)</label>
          <input id="f-user" value={userDraft} onInput={(e) => setUserDraft((e.target as HTMLInputElement).value)} data-testid="filter-user" />
        </div>
        <button type="submit">Apply</button>
      </form>
      <ErrorNotice error={error} />
      <p class="sr-only" role="status" aria-live="polite">
        {announce}
      </p>
      <div class={id ? 'split' : ''}>
        <section aria-labelledby="messages-heading">
          <h2 id="messages-heading">
            Messages{' '}
            <span class="muted" data-testid="messages-total">
              {total === null ? '' : `(${rows.length} shown of ${total})`}
            </span>
          </h2>
          {!loaded ? (
            <p role="status">Loading…</p>
          ) : rows.length === 0 && !error ? (
            <p data-testid="messages-empty">No messages match these filters yet. New ones appear here as they are sent.</p>
          ) : (
            <MessageTable rows={rows} openId={id} />
          )}
        </section>
        {id ? <Timeline id={id} tick={timelineTick} /> : null}
      </div>
    </Page>
  );
}


export function MessageTable({ rows, openId, actions }: { rows: Row[]; openId?: string | undefined; actions?: (row: Row) => preact.ComponentChildren }) {
  return (
    <table class="grid" data-testid="messages-table">
      <thead>
        <tr>
          <th scope="col">Message</th>
          <th scope="col">Created</th>
          <th scope="col">Status</th>
          <th scope="col">Channel</th>
          <th scope="col">Notification</th>
          <th scope="col">User</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last error</th>
          {actions ? <th scope="col">Actions</th> : null}
        </tr>
      </thead>
      <tbody>
        {rows.map((m) => (
          <tr key={m.id} data-testid="message-row" data-id={m.id} data-status={m.status} aria-current={m.id === openId ? 'true' : undefined}>
            <td>
              <a href={href(`/activity/${m.id}`)} title={m.id}>
                <span class="sr-only">Timeline of message </span>
                {shortId(m.id)}
              </a>
            </td>
            <td>
              <Time iso={m.createdAt} />
            </td>
            <td>
              <StatusBadge status={m.status} />
            </td>
            <td>{m.channel}</td>
            <td>{m.notificationId ?? '—'}</td>
            <td title={m.userId ?? ''}>{m.userId ? <a href={href(`/users/${m.userId}`)}>{shortId(m.userId)}</a> : (m.to ?? '—')}</td>
            <td>
              {m.attempts}/{m.maxAttempts}
            </td>
            <td class="wrap">{m.lastError ?? ''}</td>
            {actions ? <td>{actions(m)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One message: its details, every status change and what the provider answered. */
function Timeline({ id, tick }: { id: string; tick: number }) {
  const client = useClient();
  const message = useAsync(() => client.request(ConsoleMessage, { id }), [client, id]);
  const [retryError, setRetryError] = useState<ConsoleError | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (tick > 0) void message.reload();
  }, [tick]);
  useEffect(() => heading.current?.focus(), [id]);
  const m = message.data?.message;
  return (
    <section class="timeline" aria-labelledby="timeline-heading" data-testid="timeline">
      <h2 id="timeline-heading" ref={heading} tabIndex={-1}>
        Message {shortId(id)}
      </h2>
      <a href={href('/activity')}>Close the timeline</a>
      <ErrorNotice error={message.error} />
      {!m ? (
        message.error ? null : <p role="status">Loading…</p>
      ) : (
        <>
          <dl class="facts">
            <dt>Id</dt>
            <dd data-testid="timeline-id">{m.id}</dd>
            <dt>Status</dt>
            <dd data-testid="timeline-status">
              <StatusBadge status={m.status} />
            </dd>
            <dt>Channel</dt>
            <dd>{m.channel}</dd>
            <dt>Recipient</dt>
            <dd>{m.to ?? m.userId ?? '—'}</dd>
            <dt>Notification</dt>
            <dd>{m.notificationId ?? '—'}</dd>
            <dt>Source</dt>
            <dd>{m.source}</dd>
            <dt>Request</dt>
            <dd>{m.requestId}</dd>
            <dt>Attempts</dt>
            <dd>
              {m.attempts} of {m.maxAttempts}
            </dd>
          </dl>
          <h3>Events</h3>
          <ol class="events" data-testid="timeline-events">
            {m.events.map((e) => (
              <li data-testid="timeline-event" data-status={e.status}>
                <StatusBadge status={e.status} /> <Time iso={e.at} /> · attempt {e.attempt}
                {e.provider ? ` · ${e.provider}` : ''}
                {e.error ? <div class="event-error">{e.error}</div> : null}
              </li>
            ))}
          </ol>
          <h3>Provider's answer</h3>
          <dl class="facts" data-testid="provider-answer">
            <dt>Provider</dt>
            <dd>{m.provider ?? '—'}</dd>
            <dt>Provider message id</dt>
            <dd>{m.providerMessageId ?? '—'}</dd>
            <dt>Last error</dt>
            <dd class="wrap" data-testid="timeline-last-error">
              {m.lastError ?? '—'}
            </dd>
            <dt>Sent</dt>
            <dd>
              <Time iso={m.sentAt} />
            </dd>
            <dt>Delivered</dt>
            <dd>
              <Time iso={m.deliveredAt} />
            </dd>
          </dl>
          {m.status === 'FAILED' ? (
            <button
              type="button"
              data-testid="timeline-retry"
              onClick={async () => {
                setRetryError(null);
                try {
                  await client.request(ConsoleRetryMessage, { id: m.id });
                  await message.reload();
                } catch (caught) {
                  setRetryError(asConsoleError(caught));
                }
              }}
            >
              Retry this message
            </button>
          ) : null}
          <ErrorNotice error={retryError} />
          <details>
            <summary>Rendered content</summary>
            <pre class="code">{JSON.stringify(m.content, null, 2)}</pre>
          </details>
        </>
      )}
    </section>
  );
}
