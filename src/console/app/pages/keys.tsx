/** @jsxImportSource preact */
import { useRef, useState } from 'preact/hooks';
import type { ConsoleError } from '../client.ts';
import { ConsoleCreateKey, ConsoleKeys, ConsoleRevokeKey } from '../documents.ts';
import { asConsoleError, ErrorNotice, Page, Time, useAsync, useClient } from '../ui.tsx';

/** The project's API keys: create one (its secret is shown once), revoke one (at once, everywhere). */
export function KeysPage({ onSignOut }: { onSignOut: () => void }) {
  const client = useClient();
  const keys = useAsync(() => client.request(ConsoleKeys, {}), [client]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; apiKey: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<ConsoleError | null>(null);
  const [status, setStatus] = useState('');
  const secret = useRef<HTMLInputElement>(null);
  const ownKeyId = client.apiKey.split('.')[0];

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const { createApiKey } = await client.request(ConsoleCreateKey, { name: name.trim() });
      setCreated({ name: createApiKey.key.name, apiKey: createApiKey.apiKey });
      setName('');
      await keys.reload();
      // Once rendered: the new key takes the focus, selected, ready to copy.
      setTimeout(() => {
        secret.current?.focus();
        secret.current?.select();
      }, 0);
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await client.request(ConsoleRevokeKey, { id });
      setConfirming(null);
      setStatus(`Key ${id} revoked`);
      if (id === ownKeyId) return onSignOut();
      await keys.reload();
    } catch (caught) {
      setError(asConsoleError(caught));
    }
  };
  return (
    <Page title="Keys">
      <form class="inline-form" onSubmit={create} aria-labelledby="new-key-heading">
        <h2 id="new-key-heading">New key</h2>
        <div class="field">
          <label for="key-name">Name</label>
          <input id="key-name" value={name} required maxLength={100} onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="key-name" />
        </div>
        <button type="submit" data-testid="create-key">
          Create key
        </button>
      </form>
      {created ? (
        <div class="notice" role="status" data-testid="created-key">
          <p>
            Key <strong>{created.name}</strong> created. Copy it now: Herald never shows it again.
          </p>
          <label for="created-secret">API key</label>
          <input id="created-secret" ref={secret} readOnly value={created.apiKey} data-testid="created-secret" spellcheck={false} />
          <button type="button" onClick={() => void navigator.clipboard?.writeText(created.apiKey).then(() => setStatus('Copied'), () => setStatus('Copy refused by the browser: select and copy it'))}>
            Copy
          </button>
        </div>
      ) : null}
      <p role="status" data-testid="keys-status">
        {status}
      </p>
      <ErrorNotice error={error ?? keys.error} />
      <h2>Keys</h2>
      <table class="grid" data-testid="keys-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key id</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {keys.data?.project.apiKeys.map((k) => (
            <tr key={k.id} data-testid="key-row" data-id={k.id} data-active={String(k.active)}>
              <td>
                {k.name}
                {k.id === ownKeyId ? <span class="muted"> (this session)</span> : null}
              </td>
              <td>
                <code>{k.id}</code>
              </td>
              <td>
                <Time iso={k.createdAt} />
              </td>
              <td>{k.active ? 'Active' : <>Revoked <Time iso={k.revokedAt} /></>}</td>
              <td>
                {!k.active ? null : confirming === k.id ? (
                  <>
                    <button type="button" class="danger" data-testid="confirm-revoke" onClick={() => revoke(k.id)}>
                      Confirm: revoke {k.name}
                    </button>{' '}
                    <button type="button" onClick={() => setConfirming(null)}>
                      Cancel
                    </button>
                  </>
                ) : (
                  <button type="button" data-testid="revoke-key" aria-label={`Revoke key ${k.name}`} onClick={() => setConfirming(k.id)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
