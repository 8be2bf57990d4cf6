/** @jsxImportSource preact */
import { useEffect, useState } from 'preact/hooks';
import type { BroadcastStatus, ConsoleBroadcastFieldsFragment } from '../../../generated/gql/graphql.ts';
import type { ConsoleError } from '../client.ts';
import { ConsoleAddSubscribers, ConsoleBroadcastProgress, ConsoleBroadcasts, ConsoleCancelBroadcast, ConsoleCreateTopic, ConsoleRemoveSubscribers, ConsoleTopic, ConsoleTopics } from '../documents.ts';
import { asConsoleError, Columns, ErrorNotice, href, Page, shortId, StatusBadge, Time, useAsync, useClient } from '../ui.tsx';

type Broadcast = ConsoleBroadcastFieldsFragment;
const BROADCAST_STATUSES: BroadcastStatus[] = ['QUEUED', 'RUNNING', 'COMPLETED', 'CANCELED', 'FAILED'];
const SUBSCRIBERS_PAGE = 20;
const BROADCASTS_PAGE = 20;
const unfinished = (b: Broadcast) => b.status === 'QUEUED' || b.status === 'RUNNING';

/** Topics & broadcasts: #/audiences lists both, #/audiences/<topic key> is a topic with its subscribers and broadcasts. */
export function AudiencesPage({ id }: { id: string | undefined }) {
  // Keyed: another topic starts at its first page.
  return id ? <TopicDetail key={id} topicKey={id} /> : <Audiences />;
}

function Audiences() {
  const client = useClient();
  const topics = useAsync(() => client.request(ConsoleTopics, {}), [client]);
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await client.request(ConsoleCreateTopic, { key: key.trim(), name: name.trim() || null });
      setKey('');
      setName('');
      await topics.reload();
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  return (
    <Page title="Topics & broadcasts">
      <section aria-labelledby="topics-heading">
        <h2 id="topics-heading">Topics {topics.data ? <span class="muted">({topics.data.topics.totalCount})</span> : null}</h2>
        <ErrorNotice error={topics.error} />
        <table class="grid" data-testid="topics-table">
          <Columns names={['Key', 'Name', 'Subscribers', 'Created']} />
          <tbody>
            {topics.data?.topics.edges.map(({ node: t }) => (
              <tr key={t.id} data-testid="topic-row" data-key={t.key}>
                <td>
                  <a href={href(`/audiences/${encodeURIComponent(t.key)}`)}>{t.key}</a>
                </td>
                <td>{t.name}</td>
                <td data-testid="topic-count">{t.subscriberCount}</td>
                <td>
                  <Time iso={t.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <form class="inline-form" onSubmit={create} aria-labelledby="new-topic-heading">
          <h3 id="new-topic-heading">New topic</h3>
          <div class="field">
            <label for="topic-key">Key</label>
            <input id="topic-key" value={key} required maxLength={128} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="topic-name">Name (optional)</label>
            <input id="topic-name" value={name} maxLength={200} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          <button type="submit">Create topic</button>
          <ErrorNotice error={error} />
        </form>
      </section>
      <Broadcasts />
    </Page>
  );
}

/** A topic's subscribers, a page at a time, with subscribe / unsubscribe by externalId. */
function TopicDetail({ topicKey }: { topicKey: string }) {
  const client = useClient();
  // The cursors of the pages before this one, so "Previous" goes back without a backwards query.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const topic = useAsync(() => client.request(ConsoleTopic, { key: topicKey, first: SUBSCRIBERS_PAGE, after }), [client, topicKey, after]);
  const [ids, setIds] = useState('');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);
  const t = topic.data?.topic;
  const change = async (userIds: string[], add: boolean) => {
    setError(null);
    setStatus('');
    try {
      const count = add
        ? (await client.request(ConsoleAddSubscribers, { key: topicKey, userIds })).addTopicSubscribers.count
        : (await client.request(ConsoleRemoveSubscribers, { key: topicKey, userIds })).removeTopicSubscribers.count;
      setStatus(add ? `${count} subscribed (${userIds.length - count} already were)` : `${count} unsubscribed`);
      if (add) setIds('');
      await topic.reload();
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const list = ids.split(/[\s,]+/).filter(Boolean);
    void change(list, (event.submitter as HTMLButtonElement | null)?.value !== 'remove');
  };
  const page = cursors.length;
  return (
    <Page title={`Topic: ${topicKey}`}>
      <p>
        <a href={href('/audiences')}>All topics and broadcasts</a>
      </p>
      <ErrorNotice error={topic.error} />
      {t ? (
        <>
          <section aria-labelledby="subscribers-heading">
            <h2 id="subscribers-heading">
              Subscribers <span class="muted" data-testid="subscriber-total">({t.subscribers.totalCount})</span>
            </h2>
            <p class="muted">{t.name} · oldest users first · page {page}</p>
            <form class="inline-form" onSubmit={submit} aria-label="Subscribe or unsubscribe users">
              <div class="field">
                <label for="subscriber-ids">User ids (externalIds, separated by spaces or commas)</label>
                <input id="subscriber-ids" value={ids} required onInput={(e) => setIds((e.target as HTMLInputElement).value)} data-testid="subscriber-ids" />
              </div>
              <button type="submit" value="add" data-testid="subscribe">
                Subscribe
              </button>
              <button type="submit" value="remove" class="danger" data-testid="unsubscribe">
                Unsubscribe
              </button>
            </form>
            <p role="status" data-testid="subscribers-status">
              {status}
            </p>
            <ErrorNotice error={error} />
            <table class="grid" data-testid="subscribers-table">
              <Columns names={['externalId', 'Name', 'Email', 'Actions']} />
              <tbody>
                {t.subscribers.edges.map(({ node: u }) => (
                  <tr key={u.id} data-testid="subscriber-row" data-id={u.externalId}>
                    <td>
                      <a href={href(`/users/${u.id}`)}>{u.externalId}</a>
                    </td>
                    <td>{[u.firstName, u.lastName].filter(Boolean).join(' ') || '—'}</td>
                    <td>{u.email ?? '—'}</td>
                    <td>
                      <button type="button" aria-label={`Unsubscribe ${u.externalId}`} onClick={() => void change([u.externalId], false)}>
                        Unsubscribe
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div class="buttons">
              <button type="button" disabled={page === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Previous page
              </button>
              <button type="button" data-testid="subscribers-next" disabled={!t.subscribers.pageInfo.hasNextPage} onClick={() => setCursors((c) => [...c, t.subscribers.pageInfo.endCursor ?? null])}>
                Next page
              </button>
            </div>
          </section>
          <Broadcasts topicKey={topicKey} />
        </>
      ) : topic.error ? null : (
        <p role="status">Loading…</p>
      )}
    </Page>
  );
}

/**
 * The newest broadcasts (of a topic, or all), each unfinished one followed live by its own
 * broadcast subscription (progress after every chunk of the fan-out); cancel in two steps.
 * New broadcasts appear on Refresh: there is no subscription for the list itself.
 */
function Broadcasts({ topicKey }: { topicKey?: string }) {
  const client = useClient();
  const [status, setStatus] = useState('');
  const [rows, setRows] = useState<Broadcast[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<ConsoleError | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const filter = { status: status ? [status as BroadcastStatus] : null, topicKey: topicKey ?? null };
        const { broadcasts } = await client.request(ConsoleBroadcasts, { first: BROADCASTS_PAGE, filter });
        if (stopped) return;
        setRows(broadcasts.edges.map((e) => e.node));
        setTotal(broadcasts.totalCount);
        setError(null);
      } catch (caught) {
        if (!stopped) setError(asConsoleError(caught));
      }
    };
    const off = client.onReconnect(() => void load());
    void load();
    return () => {
      stopped = true;
      off();
    };
  }, [client, status, topicKey, tick]);

  // One subscription per unfinished broadcast listed; a finished one sends nothing more.
  const live = rows.filter(unfinished).map((b) => b.id).join(',');
  useEffect(() => {
    if (!live) return;
    const stops = live.split(',').map((id) =>
      client.subscribe(ConsoleBroadcastProgress, { id }, ({ broadcast }) => setRows((current) =>
          // Each event re-reads the row; a late answer of an older one must not move the bar back.
          current.map((r) => (r.id === broadcast.id && (broadcast.processed >= r.processed || broadcast.status !== r.status) ? broadcast : r)),
        ),
      ),
    );
    return () => stops.forEach((stop) => stop());
  }, [client, live]);

  const cancel = async (id: string) => {
    setError(null);
    try {
      const { cancelBroadcast } = await client.request(ConsoleCancelBroadcast, { id });
      setConfirming(null);
      setRows((current) => current.map((r) => (r.id === id ? cancelBroadcast : r)));
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  return (
    <section aria-labelledby="broadcasts-heading">
      <h2 id="broadcasts-heading">
        Broadcasts {total === null ? null : <span class="muted">({rows.length} newest shown of {total})</span>}
      </h2>
      <div class="filters">
        <div class="field">
          <label for="broadcast-status">Status</label>
          <select id="broadcast-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {BROADCAST_STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <button type="button" onClick={() => setTick((t) => t + 1)} data-testid="broadcasts-refresh">
          Refresh
        </button>
      </div>
      <ErrorNotice error={error} />
      {total === null ? (
        error ? null : <p role="status">Loading…</p>
      ) : rows.length === 0 ? (
        <p>No broadcasts.</p>
      ) : (
        <table class="grid" data-testid="broadcasts-table">
          <Columns names={['Created', 'Audience', 'Notification', 'Status', 'Progress', 'Delivered / skipped / failed', 'Actions']} />
          <tbody>
            {rows.map((b) => (
              <tr key={b.id} data-testid="broadcast-row" data-id={b.id} data-status={b.status} data-processed={b.processed}>
                <td>
                  <Time iso={b.createdAt} />
                  <div class="muted wrap" title={b.id}>
                    {b.transactionId}
                  </div>
                </td>
                <td>{b.topicKey ? <a href={href(`/audiences/${encodeURIComponent(b.topicKey)}`)}>{b.topicKey}</a> : 'All users'}</td>
                <td>{b.notificationId}</td>
                <td>
                  <StatusBadge status={b.status} />
                  {b.lastError ? <div class="event-error">{b.lastError}</div> : null}
                </td>
                <td>
                  <progress max={Math.max(b.total, b.processed, 1)} value={b.processed} aria-label={`Broadcast ${shortId(b.id)}: ${b.processed} of ${b.total} processed`} />{' '}
                  <span data-testid="broadcast-progress">
                    {b.processed} / {b.total}
                  </span>
                </td>
                <td>
                  {b.delivered} / {b.skipped} / {b.failed}
                </td>
                <td>
                  {!unfinished(b) ? (
                    <Time iso={b.finishedAt} />
                  ) : confirming === b.id ? (
                    <>
                      <button type="button" class="danger" data-testid="confirm-cancel-broadcast" onClick={() => void cancel(b.id)}>
                        Confirm: stop {b.transactionId}
                      </button>{' '}
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep it
                      </button>
                    </>
                  ) : (
                    <button type="button" data-testid="cancel-broadcast" aria-label={`Cancel broadcast ${b.transactionId}`} onClick={() => setConfirming(b.id)}>
                      Cancel
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
