/** @jsxImportSource preact */
import { useEffect, useState } from 'preact/hooks';
import type { ConsoleWorkflowRunsQuery, WorkflowRunStatus } from '../../../generated/gql/graphql.ts';
import type { ConsoleError } from '../client.ts';
import { ConsoleCancelWorkflowRuns, ConsoleNotifications, ConsoleWorkflowRun, ConsoleWorkflowRunEvents, ConsoleWorkflowRuns } from '../documents.ts';
import { asConsoleError, Columns, ErrorNotice, href, Page, shortId, StatusBadge, Time, useAsync, useClient } from '../ui.tsx';

const RUN_STATUSES: WorkflowRunStatus[] = ['WAITING', 'RUNNING', 'COMPLETED', 'CANCELED', 'THROTTLED', 'MERGED', 'FAILED'];
const PAGE_SIZE = 50;
type RunRow = ConsoleWorkflowRunsQuery['workflowRuns']['edges'][number]['node'];

export function WorkflowsPage({ id }: { id: string | undefined }) {
  return id ? <RunDetail id={id} /> : <RunList />;
}

interface RunFilter {
  status: string;
  notification: string;
  user: string;
  transactionId: string;
}
const NO_FILTER: RunFilter = { status: '', notification: '', user: '', transactionId: '' };

/** Runs of the project, newest first, filtered; "Older runs" appends the next page. */
function RunList() {
  const client = useClient();
  const notifications = useAsync(() => client.request(ConsoleNotifications, {}), [client]);
  const [draft, setDraft] = useState<RunFilter>(NO_FILTER);
  const [applied, setApplied] = useState<RunFilter>(NO_FILTER);
  const [rows, setRows] = useState<RunRow[]>([]);
  const [after, setAfter] = useState<string | null>(null);
  const [error, setError] = useState<ConsoleError | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const filter = {
    status: (applied.status || null) as WorkflowRunStatus | null,
    notificationId: applied.notification ? Number(applied.notification) : null,
    userId: applied.user || null,
    transactionId: applied.transactionId || null,
  };
  const load = async (cursor: string | null) => {
    setError(null);
    try {
      const { workflowRuns } = await client.request(ConsoleWorkflowRuns, { first: PAGE_SIZE, after: cursor, filter });
      const page = workflowRuns.edges.map((e) => e.node);
      setRows((current) => (cursor ? [...current, ...page] : page));
      setTotal(workflowRuns.totalCount);
      setAfter(workflowRuns.pageInfo.hasNextPage ? workflowRuns.pageInfo.endCursor ?? null : null);
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  useEffect(() => void load(null), [client, applied, tick]);
  const field = (name: keyof RunFilter) => (e: Event) => setDraft((d) => ({ ...d, [name]: (e.target as HTMLInputElement).value }));
  const names = new Map(notifications.data?.notifications.edges.map(({ node: n }) => [n.id, n.name]) ?? []);

  return (
    <Page title="Workflow runs">
      <form class="filters" role="search" aria-label="Filter workflow runs" onSubmit={(e) => (e.preventDefault(), setApplied({ ...draft, user: draft.user.trim(), transactionId: draft.transactionId.trim() }))}>
        <div class="field">
          <label for="run-status">Status</label>
          <select id="run-status" value={draft.status} onChange={field('status')} data-testid="run-filter-status">
            <option value="">Any</option>
            {RUN_STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="run-notification">Notification</label>
          <select id="run-notification" value={draft.notification} onChange={field('notification')}>
            <option value="">Any</option>
            {notifications.data?.notifications.edges.map(({ node: n }) => (
              <option value={String(n.id)}>{n.name}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="run-user">User (externalId or Herald id)</label>
          <input id="run-user" value={draft.user} onInput={field('user')} data-testid="run-filter-user" />
        </div>
        <div class="field">
          <label for="run-transaction">transactionId</label>
          <input id="run-transaction" value={draft.transactionId} onInput={field('transactionId')} data-testid="run-filter-transaction" />
        </div>
        <button type="submit" data-testid="run-filter-apply">
          Filter
        </button>
      </form>
      <CancelRuns onCanceled={() => setTick((t) => t + 1)} />
      <ErrorNotice error={error} />
      {total === null ? (
        error ? null : <p role="status">Loading…</p>
      ) : (
        <>
          <p class="muted" role="status">
            {rows.length} shown of {total} (newest first)
          </p>
          <table class="grid" data-testid="runs-table">
            <Columns names={['Run', 'Status', 'Notification', 'User', 'transactionId', 'Next step', 'Created', 'Finished']} />
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid="run-row" data-id={r.id} data-status={r.status}>
                  <td>
                    <a href={href(`/workflows/${r.id}`)} title={r.id}>
                      <span class="sr-only">Run </span>
                      {shortId(r.id)}
                    </a>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                    {r.reason ? <div class="muted wrap">{r.reason}</div> : null}
                  </td>
                  <td>{names.get(r.notificationId) ?? r.notificationId}</td>
                  <td>
                    <a href={href(`/users/${r.userId}`)} title={r.userId}>
                      {shortId(r.userId)}
                    </a>
                  </td>
                  <td class="wrap">{r.transactionId ?? '—'}</td>
                  <td>{r.cursor}</td>
                  <td>
                    <Time iso={r.createdAt} />
                  </td>
                  <td>
                    <Time iso={r.finishedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {after ? (
            <button type="button" onClick={() => void load(after)}>
              Older runs
            </button>
          ) : null}
        </>
      )}
    </Page>
  );
}

/** cancelWorkflowRuns in two steps: the first click names what will be canceled, the second does it. */
function CancelRuns({ initial = '', onCanceled }: { initial?: string; onCanceled: () => void }) {
  const client = useClient();
  const [transactionId, setTransactionId] = useState(initial);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [result, setResult] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);
  const cancel = async (id: string) => {
    setError(null);
    try {
      const { cancelWorkflowRuns: n } = await client.request(ConsoleCancelWorkflowRuns, { transactionId: id });
      setConfirming(null);
      setResult(`${n} unfinished ${n === 1 ? 'run' : 'runs'} of ${id} canceled`);
      onCanceled();
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  return (
    <form
      class="inline-form"
      aria-labelledby="cancel-runs-heading"
      onSubmit={(e) => {
        e.preventDefault();
        setResult('');
        if (transactionId.trim()) setConfirming(transactionId.trim());
      }}
    >
      <h2 id="cancel-runs-heading">Cancel runs</h2>
      <div class="field">
        <label for="cancel-transaction">transactionId</label>
        <input id="cancel-transaction" value={transactionId} required onInput={(e) => (setTransactionId((e.target as HTMLInputElement).value), setConfirming(null))} data-testid="cancel-transaction" />
      </div>
      {confirming === null ? (
        <button type="submit" data-testid="cancel-runs">
          Cancel runs…
        </button>
      ) : (
        <div class="buttons">
          <button type="button" class="danger" data-testid="confirm-cancel-runs" onClick={() => void cancel(confirming)}>
            Confirm: cancel the unfinished runs of {confirming}
          </button>
          <button type="button" onClick={() => setConfirming(null)}>
            Keep them
          </button>
        </div>
      )}
      <p role="status" data-testid="cancel-runs-result">
        {result}
      </p>
      <ErrorNotice error={error} />
    </form>
  );
}

/** One run and its steps, reloaded on each workflowRun event while the page is open. */
function RunDetail({ id }: { id: string }) {
  const client = useClient();
  const run = useAsync(() => client.request(ConsoleWorkflowRun, { id }), [client, id]);
  const [events, setEvents] = useState(0);
  useEffect(() => {
    // An event says which step changed, not how: the run is read again for all of it.
    const unsubscribe = client.subscribe(ConsoleWorkflowRunEvents, { id }, () => {
      setEvents((n) => n + 1);
      void run.reload();
    });
    const off = client.onReconnect(() => void run.reload());
    return () => {
      unsubscribe();
      off();
    };
  }, [client, id, run.reload]);
  const r = run.data?.workflowRun;
  const unfinished = r && (r.status === 'WAITING' || r.status === 'RUNNING');
  return (
    <Page title={r ? `Workflow run ${shortId(r.id)}` : 'Workflow run'}>
      <p>
        <a href={href('/workflows')}>All runs</a>
      </p>
      <ErrorNotice error={run.error} />
      {!r ? (
        run.error ? null : <p role="status">Loading…</p>
      ) : (
        <>
          <dl class="facts" data-testid="run-facts" data-status={r.status}>
            <dt>Id</dt>
            <dd>{r.id}</dd>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={r.status} /> {r.reason ? <span class="muted">{r.reason}</span> : null}
            </dd>
            <dt>Notification</dt>
            <dd>
              <a href={href(`/notifications/${r.notificationId}`)}>{r.notificationId}</a>
            </dd>
            <dt>User</dt>
            <dd>
              <a href={href(`/users/${r.userId}`)}>{r.userId}</a>
            </dd>
            <dt>transactionId</dt>
            <dd>{r.transactionId ?? '—'}</dd>
            <dt>Source</dt>
            <dd>{r.source}</dd>
            <dt>Due</dt>
            <dd>
              <Time iso={r.dueAt} />
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={r.createdAt} />
            </dd>
            <dt>Finished</dt>
            <dd>
              <Time iso={r.finishedAt} />
            </dd>
          </dl>
          <p class="muted" role="status" data-testid="run-live" data-events={events}>
            {events ? `${events} live ${events === 1 ? 'update' : 'updates'} received` : 'Live: step changes appear here as they happen'}
          </p>
          <section aria-labelledby="steps-heading">
            <h2 id="steps-heading">Steps</h2>
            <table class="grid" data-testid="steps-table">
              <Columns names={['#', 'Kind', 'Status', 'Reason', 'Resumes at', 'Digest', 'Messages', 'Finished']} />
              <tbody>
                {r.steps.map((s) => (
                  <tr key={s.index} data-testid="step-row" data-index={s.index} data-status={s.status}>
                    <td>{s.index}</td>
                    <td>{s.kind}</td>
                    <td>
                      <StatusBadge status={s.status} />
                    </td>
                    <td class="wrap">{s.reason ?? '—'}</td>
                    <td>
                      <Time iso={s.resumeAt} />
                    </td>
                    <td data-testid="step-digest">{s.digest ? `${s.digest.count} ${s.digest.count === 1 ? 'event' : 'events'}${s.digest.closedAt ? ', closed' : ', open'}` : '—'}</td>
                    <td>
                      {s.messages.length === 0
                        ? '—'
                        : s.messages.map((m) => (
                            <a key={m.id} href={href(`/activity/${m.id}`)} data-testid="step-message" aria-label={`Message ${m.id} (${m.channel}, ${m.status})`}>
                              {m.channel} {m.status}
                            </a>
                          ))}
                    </td>
                    <td>
                      <Time iso={s.finishedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <details>
            <summary>Trigger data</summary>
            <pre class="code">{JSON.stringify(r.data, null, 2)}</pre>
          </details>
          {unfinished && r.transactionId ? <CancelRuns initial={r.transactionId} onCanceled={() => void run.reload()} /> : null}
        </>
      )}
    </Page>
  );
}
