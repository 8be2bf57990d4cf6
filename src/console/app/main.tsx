/** @jsxImportSource preact */
import { render } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ConsoleClient, ConsoleError, storedKey, storeKey, type LiveState } from './client.ts';
import { ConsoleSignIn } from './documents.ts';
import { ActivityPage } from './pages/activity.tsx';
import { AudiencesPage } from './pages/audiences.tsx';
import { DeadLettersPage } from './pages/dead-letters.tsx';
import { KeysPage } from './pages/keys.tsx';
import { NotificationsPage } from './pages/notifications.tsx';
import { ProvidersPage } from './pages/providers.tsx';
import { UsersPage } from './pages/users.tsx';
import { WorkflowsPage } from './pages/workflows.tsx';
import { asConsoleError, ClientContext, ErrorNotice, href } from './ui.tsx';

/** The console's pages; routes live in the fragment (#/activity), so nothing reaches the server's logs. */
const PAGES = [
  { path: 'activity', label: 'Activity' },
  { path: 'dead-letters', label: 'Dead letters' },
  { path: 'notifications', label: 'Notifications' },
  { path: 'workflows', label: 'Workflow runs' },
  { path: 'users', label: 'Users' },
  { path: 'audiences', label: 'Topics & broadcasts' },
  { path: 'providers', label: 'Providers' },
  { path: 'keys', label: 'Keys' },
] as const;

export interface Route {
  page: string;
  /** The path after the page: a message, notification, user or workflow run id, or a topic key. */
  id: string | undefined;
  params: URLSearchParams;
}

function parseRoute(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [page = 'activity', id] = path.split('/').map(decodeURIComponent);
  return { page: PAGES.some((p) => p.path === page) ? page : 'activity', id: id || undefined, params: new URLSearchParams(query) };
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const onChange = () => setRoute(parseRoute());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (client: ConsoleClient, project: string) => void; notice: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  // A layout effect, as Page's: the field has the focus as soon as it is on screen.
  useLayoutEffect(() => {
    document.title = 'Sign in · Herald console';
    input.current?.focus();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const apiKey = key.trim();
    if (!/^[^.\s]+\.[^.\s]+$/.test(apiKey)) {
      setError(new ConsoleError('An API key looks like <keyId>.<keySecret>', 'BAD_USER_INPUT'));
      input.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const client = new ConsoleClient(apiKey, () => {});
    try {
      const data = await client.request(ConsoleSignIn, {});
      storeKey(apiKey);
      client.close();
      onSignedIn(new ConsoleClient(apiKey, () => {}), data.project.name);
    } catch (caught) {
      const failure = asConsoleError(caught);
      setError(failure.code === 'UNAUTHENTICATED' ? new ConsoleError('Herald refused this API key (unknown or revoked)', failure.code) : failure);
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Herald console</h1>
      <form onSubmit={submit} aria-describedby="signin-help" data-testid="signin-form">
        <p id="signin-help">
          Sign in with an API key of your project. It is kept in this tab's session storage only and sent as
          <code>Authorization: Bearer</code>; closing the tab forgets it.
        </p>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <label for="apikey">API key</label>
        <input
          id="apikey"
          ref={input}
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'signin-error' : undefined}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          required
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <div id="signin-error">
          <ErrorNotice error={error} testId="signin-error" />
        </div>
      </form>
    </main>
  );
}

const LIVE_TEXT: Record<LiveState, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', refused: 'Key refused' };

function Shell({ client, project, onSignOut }: { client: ConsoleClient; project: string; onSignOut: () => void }) {
  const route = useRoute();
  const [live, setLive] = useState<LiveState>(client.state);
  useEffect(() => {
    const off = client.onState(setLive);
    client.connect();
    return off;
  }, [client]);
  let page;
  switch (route.page) {
    case 'dead-letters':
      page = <DeadLettersPage />;
      break;
    case 'notifications':
      page = <NotificationsPage id={route.id} />;
      break;
    case 'users':
      page = <UsersPage id={route.id} />;
      break;
    case 'workflows':
      page = <WorkflowsPage id={route.id} />;
      break;
    case 'audiences':
      page = <AudiencesPage id={route.id} />;
      break;
    case 'providers':
      page = <ProvidersPage />;
      break;
    case 'keys':
      page = <KeysPage onSignOut={onSignOut} />;
      break;
    default:
      page = <ActivityPage id={route.id} params={route.params} />;
  }
  return (
    <ClientContext.Provider value={client}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.querySelector<HTMLElement>('#main h1')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Herald console</span>
        <span class="project" data-testid="project-name">
          {project}
        </span>
        <span class={`live live-${live}`} role="status" data-testid="live-state" data-state={live}>
          {LIVE_TEXT[live]}
        </span>
        <button type="button" onClick={onSignOut} data-testid="sign-out">
          Sign out
        </button>
      </header>
      <nav aria-label="Console">
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <a href={href(`/${p.path}`)} aria-current={route.page === p.path ? 'page' : undefined} data-testid={`nav-${p.path}`}>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">{page}</main>
    </ClientContext.Provider>
  );
}

function App() {
  const [session, setSession] = useState<{ client: ConsoleClient; project: string } | null>(null);
  const [checking, setChecking] = useState(() => storedKey() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const signOut = useMemo(
    () => (why?: string) => {
      storeKey(null);
      setSession((current) => {
        current?.client.close();
        return null;
      });
      setNotice(why ?? null);
    },
    [],
  );
  const attach = (apiKey: string, project: string) => {
    const client = new ConsoleClient(apiKey, () => signOut('Herald refused the API key (revoked?): sign in again.'));
    setSession({ client, project });
  };
  // A reload keeps the tab's session: check the stored key once.
  useEffect(() => {
    const apiKey = storedKey();
    if (!apiKey) return;
    const probe = new ConsoleClient(apiKey, () => {});
    probe
      .request(ConsoleSignIn, {})
      .then((data) => attach(apiKey, data.project.name))
      .catch(() => signOut('The stored API key no longer works: sign in again.'))
      .finally(() => setChecking(false));
  }, []);
  if (checking) return <main id="main" class="signin" aria-busy="true"><p role="status">Checking the stored key…</p></main>;
  if (!session) return <SignIn notice={notice} onSignedIn={(client, project) => (client.close(), setNotice(null), attach(client.apiKey, project))} />;
  return <Shell client={session.client} project={session.project} onSignOut={() => signOut()} />;
}

const root = document.getElementById('app');
if (root) render(<App />, root);
