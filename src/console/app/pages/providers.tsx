/** @jsxImportSource preact */
import { useState } from 'preact/hooks';
import type { ConsoleError } from '../client.ts';
import { ConsoleConfigureProvider, ConsoleDeleteProvider, ConsoleNotifications, ConsoleProviders, ConsoleTestSend } from '../documents.ts';
import { asConsoleError, CHANNELS, ErrorNotice, href, Page, parseJsonObject, shortId, StatusBadge, useAsync, useClient } from '../ui.tsx';

/** The kinds each channel takes (README, "Channels and providers"). */
const KINDS: Record<string, string[]> = {
  IN_APP: ['in-app'],
  WEBHOOK: ['webhook'],
  EMAIL: ['smtp'],
  SMS: ['twilio'],
  WHATSAPP: ['whatsapp-cloud'],
  WEB_PUSH: ['web-push'],
};

export function ProvidersPage() {
  const client = useClient();
  const providers = useAsync(() => client.request(ConsoleProviders, {}), [client]);
  const notifications = useAsync(() => client.request(ConsoleNotifications, {}), [client]);
  const [channel, setChannel] = useState('WEBHOOK');
  const [kind, setKind] = useState('webhook');
  const [name, setName] = useState('');
  const [priority, setPriority] = useState('0');
  const [enabled, setEnabled] = useState(true);
  const [settings, setSettings] = useState('');
  const [secrets, setSecrets] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);
  const [status, setStatus] = useState('');

  const [testNotification, setTestNotification] = useState('');
  const [testUser, setTestUser] = useState('');
  const [testData, setTestData] = useState('');
  const [testError, setTestError] = useState<ConsoleError | null>(null);
  const [testResult, setTestResult] = useState<{ ok: boolean; error: string | null; detail: string | null; messages: { id: string; channel: string; status: string }[] } | null>(null);

  const configure = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await client.request(ConsoleConfigureProvider, {
        input: { channel, kind, name: name.trim(), priority: Number(priority), enabled, settings: parseJsonObject(settings, 'Settings'), secrets: parseJsonObject(secrets, 'Secrets') },
      });
      setStatus(`${channel} ${Number(priority) === 0 ? 'primary' : 'failover'} provider saved`);
      setSecrets('');
      await providers.reload();
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  const testSend = async (event: Event) => {
    event.preventDefault();
    setTestError(null);
    setTestResult(null);
    try {
      const data = parseJsonObject(testData, 'Data');
      const { sendMessages } = await client.request(ConsoleTestSend, { messages: [{ notificationId: testNotification, userId: testUser.trim(), data }] });
      const r = sendMessages[0]!;
      setTestResult({ ok: r.ok, error: r.error, detail: r.emailError ?? r.smsError, messages: r.messages });
    } catch (caught) {
      setTestError(asConsoleError(caught));
    }
  };
  return (
    <Page title="Providers">
      <p>Per channel, a primary (priority 0) and an optional failover (priority 1) provider. Secrets are write-only: Herald stores them encrypted and never shows them again.</p>
      <ErrorNotice error={providers.error} />
      <table class="grid" data-testid="providers-table">
        <thead>
          <tr>
            <th scope="col">Channel</th>
            <th scope="col">Priority</th>
            <th scope="col">Kind</th>
            <th scope="col">Name</th>
            <th scope="col">Enabled</th>
            <th scope="col">Settings</th>
            <th scope="col">Secrets</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {providers.data?.providers.length === 0 ? (
            <tr>
              <td colSpan={8}>No provider configured: in-app and webhook work without one.</td>
            </tr>
          ) : null}
          {providers.data?.providers.map((p) => (
            <tr key={p.id} data-testid="provider-row">
              <td>{p.channel}</td>
              <td>{p.priority === 0 ? 'Primary' : 'Failover'}</td>
              <td>{p.kind}</td>
              <td>{p.name}</td>
              <td>{p.enabled ? 'Yes' : 'No'}</td>
              <td>
                <code class="wrap">{JSON.stringify(p.settings)}</code>
              </td>
              <td>{p.hasSecrets ? 'Stored' : 'None'}</td>
              <td>
                <button
                  type="button"
                  aria-label={`Delete provider ${p.name}`}
                  onClick={async () => {
                    setError(null);
                    try {
                      await client.request(ConsoleDeleteProvider, { id: p.id });
                      setStatus(`Provider ${p.name} deleted`);
                      await providers.reload();
                    } catch (caught) {
                      setError(asConsoleError(caught));
                    }
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="columns">
        <form onSubmit={configure} aria-labelledby="configure-heading" data-testid="provider-form">
          <h2 id="configure-heading">Configure a provider</h2>
          <div class="field">
            <label for="p-channel">Channel</label>
            <select
              id="p-channel"
              value={channel}
              onChange={(e) => {
                const value = (e.target as HTMLSelectElement).value;
                setChannel(value);
                setKind(KINDS[value]![0]!);
              }}
            >
              {CHANNELS.map((c) => (
                <option value={c}>{c}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="p-kind">Kind</label>
            <select id="p-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              {KINDS[channel]!.map((k) => (
                <option value={k}>{k}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="p-name">Name</label>
            <input id="p-name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="p-priority">Priority</label>
            <select id="p-priority" value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value)}>
              <option value="0">Primary (0)</option>
              <option value="1">Failover (1)</option>
            </select>
          </div>
          <label class="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} /> Enabled
          </label>
          <div class="field">
            <label for="p-settings">Settings (JSON object)</label>
            <textarea id="p-settings" rows={3} value={settings} placeholder='{ "url": "https://hooks.example.com/herald" }' onInput={(e) => setSettings((e.target as HTMLTextAreaElement).value)} />
          </div>
          <div class="field">
            <label for="p-secrets">Secrets (JSON object, write-only)</label>
            <textarea id="p-secrets" rows={2} value={secrets} onInput={(e) => setSecrets((e.target as HTMLTextAreaElement).value)} />
          </div>
          <button type="submit">Save provider</button>
          <p role="status">{status}</p>
          <ErrorNotice error={error} />
        </form>
        <form onSubmit={testSend} aria-labelledby="test-heading" data-testid="test-send-form">
          <h2 id="test-heading">Test send</h2>
          <p class="muted">Sends a notification to one user through the configured providers; follow it in Activity.</p>
          <div class="field">
            <label for="t-notification">Notification</label>
            <select id="t-notification" required value={testNotification} onChange={(e) => setTestNotification((e.target as HTMLSelectElement).value)}>
              <option value="">Choose…</option>
              {notifications.data?.notifications.edges.map(({ node: n }) => (
                <option value={n.key ?? String(n.id)}>
                  {n.name} ({n.channels.join(', ')})
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="t-user">User (externalId)</label>
            <input id="t-user" required value={testUser} onInput={(e) => setTestUser((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="t-data">Data (JSON object)</label>
            <textarea id="t-data" rows={2} value={testData} onInput={(e) => setTestData((e.target as HTMLTextAreaElement).value)} />
          </div>
          <button type="submit">Send test</button>
          <ErrorNotice error={testError} />
          {testResult ? (
            <div role="status" data-testid="test-result">
              <p>{testResult.ok ? 'Accepted.' : `Refused: ${testResult.error}`}</p>
              {testResult.detail ? <p class="notice error">{testResult.detail}</p> : null}
              <ul>
                {testResult.messages.map((m) => (
                  <li key={m.id}>
                    <a href={href(`/activity/${m.id}`)}>
                      {m.channel} message {shortId(m.id)}
                    </a>{' '}
                    <StatusBadge status={m.status} />
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </form>
      </div>
    </Page>
  );
}
