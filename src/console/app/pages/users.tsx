/** @jsxImportSource preact */
import { useEffect, useState } from 'preact/hooks';
import type { ConsoleError } from '../client.ts';
import { ConsoleSetPreferences, ConsoleUser, ConsoleUsers } from '../documents.ts';
import { asConsoleError, CHANNELS, ErrorNotice, href, Page, parseJsonObject, shortId, Time, useAsync, useClient } from '../ui.tsx';

export function UsersPage({ id }: { id: string | undefined }) {
  return id ? <UserDetail id={id} /> : <UserList />;
}

function UserList() {
  const client = useClient();
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const users = useAsync(() => client.request(ConsoleUsers, { filter: applied ? { search: applied } : null }), [client, applied]);
  return (
    <Page title="Users">
      <form class="filters" role="search" aria-label="Find users" onSubmit={(e) => (e.preventDefault(), setApplied(search.trim()))}>
        <div class="field">
          <label for="user-search">Search (externalId, email, name)</label>
          <input id="user-search" type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} data-testid="user-search" />
        </div>
        <button type="submit">Search</button>
      </form>
      <ErrorNotice error={users.error} />
      {!users.data ? (
        users.error ? null : <p role="status">Loading…</p>
      ) : (
        <>
          <p class="muted">
            {users.data.users.edges.length} shown of {users.data.users.totalCount} (the newest)
          </p>
          <table class="grid" data-testid="users-table">
            <thead>
              <tr>
                <th scope="col">externalId</th>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Herald id</th>
              </tr>
            </thead>
            <tbody>
              {[...users.data.users.edges].reverse().map(({ node: u }) => (
                <tr key={u.id} data-testid="user-row">
                  <td>
                    <a href={href(`/users/${u.id}`)}>{u.externalId}</a>
                  </td>
                  <td>{[u.firstName, u.lastName].filter(Boolean).join(' ') || '—'}</td>
                  <td>{u.email ?? '—'}</td>
                  <td title={u.id}>{shortId(u.id)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Page>
  );
}

function UserDetail({ id }: { id: string }) {
  const client = useClient();
  const user = useAsync(() => client.request(ConsoleUser, { id }), [client, id]);
  const u = user.data?.user;
  const [muted, setMuted] = useState<string[]>([]);
  const [categories, setCategories] = useState('');
  const [perNotification, setPerNotification] = useState('');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);
  useEffect(() => {
    if (!u) return;
    setMuted(u.preferences.channels);
    setCategories(u.preferences.categories.join(', '));
    setPerNotification(Object.keys(u.preferences.notifications).length ? JSON.stringify(u.preferences.notifications, null, 2) : '');
  }, [u?.id, u?.updatedAt]);
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const notifications = parseJsonObject(perNotification, 'Per notification') ?? {};
      await client.request(ConsoleSetPreferences, {
        userId: id,
        preferences: { channels: muted, categories: categories.split(',').map((c) => c.trim()).filter(Boolean), notifications },
      });
      setStatus('Preferences saved');
      await user.reload();
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  return (
    <Page title={u ? `User: ${u.externalId}` : 'User'}>
      <p>
        <a href={href('/users')}>All users</a>
        {u ? (
          <>
            {' · '}
            <a href={href(`/activity?user=${encodeURIComponent(u.id)}`)}>Messages to this user</a>
          </>
        ) : null}
      </p>
      <ErrorNotice error={user.error} />
      {!u ? (
        user.error ? null : <p role="status">Loading…</p>
      ) : (
        <div class="columns">
          <section aria-labelledby="profile-heading">
            <h2 id="profile-heading">Profile</h2>
            <dl class="facts" data-testid="user-profile">
              <dt>externalId</dt>
              <dd>{u.externalId}</dd>
              <dt>Herald id</dt>
              <dd>{u.id}</dd>
              <dt>Name</dt>
              <dd>{[u.firstName, u.lastName].filter(Boolean).join(' ') || '—'}</dd>
              <dt>Email</dt>
              <dd>{u.email ?? '—'}</dd>
              <dt>Telephone</dt>
              <dd>{u.telephone ?? '—'}</dd>
              <dt>Language</dt>
              <dd>{u.language ?? '—'}</dd>
              <dt>Country</dt>
              <dd>{u.country ?? '—'}</dd>
              <dt>Time zone</dt>
              <dd>{u.timezone ?? '—'}</dd>
              <dt>Created</dt>
              <dd>
                <Time iso={u.createdAt} />
              </dd>
            </dl>
            {Object.keys(u.custom).length ? (
              <details>
                <summary>Custom fields</summary>
                <pre class="code">{JSON.stringify(u.custom, null, 2)}</pre>
              </details>
            ) : null}
          </section>
          <section aria-labelledby="inbox-heading">
            <h2 id="inbox-heading">
              Inbox <span class="muted" data-testid="user-unread">({u.unreadCount} unread)</span>
            </h2>
            <p class="muted">As the user's widget shows it: newest first, archived items hidden.</p>
            {u.inbox.length === 0 ? (
              <p>The inbox is empty.</p>
            ) : (
              <ul class="inbox" data-testid="user-inbox">
                {u.inbox.map((item) => (
                  <li key={item.id} data-read={item.readAt ? 'true' : 'false'}>
                    <strong>{item.title ?? '(no title)'}</strong> {item.readAt ? <span class="muted">read</span> : <span class="unread">unread</span>}
                    {item.body ? <div>{item.body}</div> : null}
                    <div class="muted">
                      <Time iso={item.createdAt} />
                      {item.category ? ` · ${item.category}` : ''}
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="prefs-heading">
            <h2 id="prefs-heading">Preferences</h2>
            <form onSubmit={save} data-testid="preferences-form">
              <fieldset>
                <legend>Muted channels</legend>
                {CHANNELS.map((c) => (
                  <label class="check" key={c}>
                    <input type="checkbox" checked={muted.includes(c)} onChange={(e) => setMuted((m) => ((e.target as HTMLInputElement).checked ? [...m, c] : m.filter((x) => x !== c)))} />{' '}
                    {c}
                  </label>
                ))}
              </fieldset>
              <div class="field">
                <label for="pref-categories">Muted categories (comma-separated)</label>
                <input id="pref-categories" value={categories} onInput={(e) => setCategories((e.target as HTMLInputElement).value)} />
              </div>
              <div class="field">
                <label for="pref-notifications">Per notification (JSON: {'{ "<id or key>": ["EMAIL"] }'})</label>
                <textarea id="pref-notifications" rows={3} value={perNotification} onInput={(e) => setPerNotification((e.target as HTMLTextAreaElement).value)} />
              </div>
              <button type="submit">Save preferences</button>
              <p role="status">{status}</p>
              <ErrorNotice error={error} />
            </form>
          </section>
        </div>
      )}
    </Page>
  );
}
