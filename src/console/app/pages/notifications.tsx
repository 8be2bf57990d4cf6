/** @jsxImportSource preact */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ConsoleNotificationQuery, ConsoleRenderQuery, LocaleContentInput } from '../../../generated/gql/graphql.ts';
import { ConsoleError, type InputIssue } from '../client.ts';
import { ConsoleCreateVersion, ConsoleNotification, ConsoleNotifications, ConsoleRender, ConsoleSetMaster, ConsoleUpdateVersion } from '../documents.ts';
import type { TemplateDiagnostic } from '../editor.tsx';
import { asConsoleError, ErrorNotice, fmtTime, href, Page, parseJsonObject, useAsync, useClient } from '../ui.tsx';

export function NotificationsPage({ id }: { id: string | undefined }) {
  return id ? <NotificationDetail id={Number(id)} /> : <NotificationList />;
}

function NotificationList() {
  const client = useClient();
  const list = useAsync(() => client.request(ConsoleNotifications, {}), [client]);
  return (
    <Page title="Notifications">
      <ErrorNotice error={list.error} />
      {!list.data ? (
        list.error ? null : <p role="status">Loading…</p>
      ) : list.data.notifications.edges.length === 0 ? (
        <p>No notifications yet: create one with createNotification (see the README's Notification catalog).</p>
      ) : (
        <table class="grid" data-testid="notifications-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Id</th>
              <th scope="col">Type</th>
              <th scope="col">Channels</th>
              <th scope="col">Active</th>
            </tr>
          </thead>
          <tbody>
            {list.data.notifications.edges.map(({ node: n }) => (
              <tr key={n.id} data-testid="notification-row">
                <td>
                  <a href={href(`/notifications/${n.id}`)}>{n.name}</a>
                </td>
                <td>{n.key ?? '—'}</td>
                <td>{n.id}</td>
                <td>{n.type}</td>
                <td>{n.channels.join(', ')}</td>
                <td>{n.active ? 'Yes' : 'No'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

type Version = ConsoleNotificationQuery['notification']['versions'][number];
type Content = Version['contents'][number];

/** The template fields the editor offers, by their path inside a locale's content. */
const FIELDS = [
  { path: 'title', label: 'Title', channel: null },
  { path: 'body', label: 'Body', channel: null },
  { path: 'email.subject', label: 'Email subject', channel: 'EMAIL' },
  { path: 'email.html', label: 'Email HTML', channel: 'EMAIL' },
  { path: 'email.text', label: 'Email text', channel: 'EMAIL' },
  { path: 'sms.text', label: 'SMS text', channel: 'SMS' },
  { path: 'whatsapp.text', label: 'WhatsApp text', channel: 'WHATSAPP' },
] as const;
type FieldPath = (typeof FIELDS)[number]['path'];

function getField(content: Content, path: FieldPath): string {
  const [head, tail] = path.split('.') as [string, string | undefined];
  const value = (content as Record<string, unknown>)[head];
  if (tail === undefined) return typeof value === 'string' ? value : '';
  const inner = (value as Record<string, unknown> | null)?.[tail];
  return typeof inner === 'string' ? inner : '';
}

function setField(content: Content, path: FieldPath, text: string): Content {
  const [head, tail] = path.split('.') as [string, string | undefined];
  if (tail === undefined) return { ...content, [head]: text === '' ? null : text };
  const inner = { ...((content as Record<string, unknown>)[head] as Record<string, unknown> | null) };
  inner[tail] = text === '' && head !== 'sms' ? null : text;
  return { ...content, [head]: inner };
}

/** What the API takes back: the fields as read, no null sub-objects left half-empty. */
function toInput(contents: Content[]): LocaleContentInput[] {
  return contents.map((c) => ({
    locale: c.locale,
    title: c.title,
    body: c.body,
    icon: c.icon,
    thumbnail: c.thumbnail,
    image: c.image,
    email: c.email && (c.email.subject || c.email.html || c.email.text) ? { subject: c.email.subject, html: c.email.html, text: c.email.text } : null,
    sms: c.sms && c.sms.text ? { text: c.sms.text } : null,
    whatsapp: c.whatsapp ? { text: c.whatsapp.text, templateName: c.whatsapp.templateName, templateLanguage: c.whatsapp.templateLanguage, parameters: c.whatsapp.parameters } : null,
  }));
}

const TEMPLATE_ERROR = /line (\d+), column (\d+): (.*)$/;

/**
 * Herald names a broken template `draft.<i>.<field>` (preview) or `version.contents.<i>.<field>`
 * (save) and says "template syntax error at line L, column C: …": keyed `<i>:<field>`.
 */
function diagnosticsOf(issues: InputIssue[]): Map<string, TemplateDiagnostic> {
  const out = new Map<string, TemplateDiagnostic>();
  for (const issue of issues) {
    const field = /(?:^|\.)(?:draft|contents)\.(\d+)\.(.+)$/.exec(issue.field);
    const at = TEMPLATE_ERROR.exec(issue.message);
    if (!field) continue;
    out.set(`${field[1]}:${field[2]}`, at ? { line: Number(at[1]), column: Number(at[2]), message: at[3]! } : { line: 1, column: 1, message: issue.message });
  }
  return out;
}

/** CodeMirror is most of the console's weight: its chunk loads when a template is opened, not with the console. */
type EditorModule = typeof import('../editor.tsx');
let editorModule: Promise<EditorModule> | undefined;
function useEditorModule(): EditorModule | null {
  const [loaded, setLoaded] = useState<EditorModule | null>(null);
  useEffect(() => {
    editorModule ??= import('../editor.tsx');
    void editorModule.then(setLoaded);
  }, []);
  return loaded;
}

type WorkflowStep = NonNullable<ConsoleNotificationQuery['notification']['workflow']>[number];

/** A workflow step in a line (read-only: workflows are edited through updateNotification). */
function describeStep(s: WorkflowStep): string {
  const members = [
    s.channel,
    s.seconds != null ? `${s.seconds} s` : null,
    s.until ? `until ${s.until}` : null,
    s.key ? `key ${s.key}` : null,
    s.windowSeconds != null ? `window ${s.windowSeconds} s` : null,
    s.limit != null ? `limit ${s.limit}` : null,
    s.maxEvents != null ? `at most ${s.maxEvents} events` : null,
  ].filter(Boolean);
  return members.length ? `${s.kind}: ${members.join(', ')}` : s.kind;
}

function NotificationDetail({ id }: { id: number }) {
  const client = useClient();
  const notification = useAsync(() => client.request(ConsoleNotification, { id }), [client, id]);
  const n = notification.data?.notification;
  const [versionId, setVersionId] = useState<string | null>(null);
  const version = n?.versions.find((v) => v.id === versionId) ?? n?.versions.find((v) => v.master) ?? n?.versions[0];
  const [status, setStatus] = useState('');
  const [error, setError] = useState<ConsoleError | null>(null);

  return (
    <Page title={n ? `Notification: ${n.name}` : 'Notification'}>
      <p>
        <a href={href('/notifications')}>All notifications</a>
      </p>
      <ErrorNotice error={notification.error ?? error} />
      {!n || !version ? (
        notification.error ? null : <p role="status">Loading…</p>
      ) : (
        <>
          <dl class="facts">
            <dt>Id</dt>
            <dd>{n.id}</dd>
            <dt>Key</dt>
            <dd>{n.key ?? '—'}</dd>
            <dt>Type</dt>
            <dd>{n.type}</dd>
            <dt>Channels</dt>
            <dd>{n.channels.join(', ')}</dd>
            <dt>Default language</dt>
            <dd>{n.defaultLanguage}</dd>
            <dt>Workflow</dt>
            <dd data-testid="notification-workflow">
              {n.workflow ? (
                <ol class="steps">
                  {n.workflow.map((step) => (
                    <li>{describeStep(step)}</li>
                  ))}
                </ol>
              ) : (
                'none (every channel at once)'
              )}
            </dd>
          </dl>
          <section aria-labelledby="versions-heading">
            <h2 id="versions-heading">Versions</h2>
            <div class="field">
              <label for="version-select">Version</label>
              <select id="version-select" value={version.id} onChange={(e) => setVersionId((e.target as HTMLSelectElement).value)} data-testid="version-select">
                {n.versions.map((v) => (
                  <option value={v.id}>
                    {v.label || v.id}
                    {v.master ? ' (master)' : ''} · {fmtTime(v.updatedAt)}
                  </option>
                ))}
              </select>
            </div>
            {!version.master ? (
              <button
                type="button"
                onClick={async () => {
                  setError(null);
                  try {
                    await client.request(ConsoleSetMaster, { notificationId: n.id, versionId: version.id });
                    setStatus('This version is now the master');
                    await notification.reload();
                  } catch (caught) {
                    setError(asConsoleError(caught));
                  }
                }}
              >
                Make master
              </button>
            ) : null}
            <p role="status">{status}</p>
          </section>
          <VersionEditor
            key={`${version.id}:${version.updatedAt}`}
            notification={n}
            version={version}
            onSaved={async (message, newVersionId) => {
              setStatus(message);
              if (newVersionId) setVersionId(newVersionId);
              await notification.reload();
            }}
          />
        </>
      )}
    </Page>
  );
}

function VersionEditor({
  notification: n,
  version,
  onSaved,
}: {
  notification: ConsoleNotificationQuery['notification'];
  version: Version;
  onSaved: (message: string, versionId?: string) => Promise<void>;
}) {
  const client = useClient();
  const editor = useEditorModule();
  const [draft, setDraft] = useState<Content[]>(() => version.contents.map((c) => ({ ...c })));
  const [localeIndex, setLocaleIndex] = useState(0);
  const [user, setUser] = useState('');
  const [previewLocale, setPreviewLocale] = useState('');
  const [dataText, setDataText] = useState('');
  const [preview, setPreview] = useState<ConsoleRenderQuery['renderNotification'] | null>(null);
  const [previewError, setPreviewError] = useState<ConsoleError | null>(null);
  const [saveError, setSaveError] = useState<ConsoleError | null>(null);
  const [rendering, setRendering] = useState(false);
  const [saving, setSaving] = useState(false);
  const [dirty, setDirty] = useState(false);
  const content = draft[localeIndex] ?? draft[0];
  const diagnostics = useMemo(() => diagnosticsOf([...(saveError?.issues ?? []), ...(previewError?.issues ?? [])]), [saveError, previewError]);

  // The preview follows the draft: rendered by Herald (renderNotification with `draft`) a moment
  // after the last keystroke, for the chosen user and locale. A late answer of an older draft is dropped.
  useEffect(() => {
    let current = true;
    setRendering(true);
    const timer = setTimeout(async () => {
      try {
        const data = parseJsonObject(dataText, 'Data');
        const result = await client.request(ConsoleRender, {
          id: n.id,
          versionId: version.id,
          contact: user.trim() ? { id: user.trim() } : null,
          locale: previewLocale.trim() || content?.locale || null,
          data,
          draft: toInput(draft),
        });
        if (!current) return;
        setPreview(result.renderNotification);
        setPreviewError(null);
      } catch (caught) {
        if (current) setPreviewError(asConsoleError(caught));
      } finally {
        if (current) setRendering(false);
      }
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [draft, user, previewLocale, dataText, localeIndex]);

  if (!content) return <p>This version has no content.</p>;
  const fields = FIELDS.filter((f) => f.channel === null || n.channels.includes(f.channel as never) || getField(content, f.path) !== '');
  const update = (path: FieldPath) => (text: string) => {
    setDirty(true);
    setSaveError(null);
    setDraft((current) => current.map((c, i) => (i === localeIndex ? setField(c, path, text) : c)));
  };
  const errorList = [...diagnostics.entries()].map(([key, d]) => {
    const [index, path] = key.split(':') as [string, string];
    const label = FIELDS.find((f) => f.path === path)?.label ?? path;
    return { key, text: `${label} (${draft[Number(index)]?.locale ?? index}), line ${d.line}, column ${d.column}: ${d.message}` };
  });
  const input = () => ({
    label: version.label,
    contents: toInput(draft),
    redirection: version.redirection,
    channel: version.channel,
    scripting: version.scripting,
    extra: version.extra,
  });
  const save = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    setSaveError(null);
    try {
      await client.request(ConsoleUpdateVersion, { notificationId: n.id, versionId: version.id, input: input() });
      setDirty(false);
      await onSaved('Saved');
    } catch (caught) {
      setSaveError(asConsoleError(caught));
    } finally {
      setSaving(false);
    }
  };
  const saveAsNew = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      const { createNotificationVersion } = await client.request(ConsoleCreateVersion, { notificationId: n.id, input: { ...input(), label: `${version.label ?? 'version'} (copy)`, master: false } });
      await onSaved('Saved as a new version (not the master)', createNotificationVersion.id);
    } catch (caught) {
      setSaveError(asConsoleError(caught));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div class="split editor-split">
      <form class="template-form" onSubmit={save} aria-labelledby="editor-heading" data-testid="template-form">
        <h2 id="editor-heading">Template {version.master ? '(master version)' : ''}</h2>
        {draft.length > 1 ? (
          <div class="field">
            <label for="locale-select">Locale</label>
            <select id="locale-select" value={String(localeIndex)} onChange={(e) => setLocaleIndex(Number((e.target as HTMLSelectElement).value))}>
              {draft.map((c, i) => (
                <option value={String(i)}>{c.locale}</option>
              ))}
            </select>
          </div>
        ) : (
          <p>Locale: {content.locale}</p>
        )}
        {fields.map((f) => {
          const key = `${localeIndex}:${f.path}`;
          const labelId = `label-${f.path.replace('.', '-')}`;
          return (
            <div class="field" key={key}>
              <span class="label" id={labelId}>
                {f.label}
              </span>
              {editor ? (
                <editor.TemplateEditor key={key} id={f.path.replace('.', '-')} labelId={labelId} value={getField(content, f.path)} onChange={update(f.path)} diagnostic={diagnostics.get(key) ?? null} />
              ) : (
                <p role="status">Loading the editor…</p>
              )}
            </div>
          );
        })}
        {errorList.length ? (
          <div class="notice error" role="alert" data-testid="template-errors">
            <p>Herald refuses these templates:</p>
            <ul>
              {errorList.map((e) => (
                <li key={e.key} data-testid="template-error">
                  {e.text}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {saveError && saveError.issues.length === 0 ? <ErrorNotice error={saveError} /> : null}
        <div class="buttons">
          <button type="submit" disabled={saving} data-testid="save-version">
            {saving ? 'Saving…' : 'Save this version'}
          </button>
          <button type="button" disabled={saving} onClick={saveAsNew}>
            Save as a new version
          </button>
          <span class="muted" role="status">
            {dirty ? 'Unsaved changes' : ''}
          </span>
        </div>
      </form>
      <section class="preview" aria-labelledby="preview-heading" data-testid="preview" aria-busy={rendering ? 'true' : 'false'}>
        <h2 id="preview-heading">Preview</h2>
        <div class="filters">
          <div class="field">
            <label for="preview-user">User (externalId or Herald id)</label>
            <input id="preview-user" value={user} onChange={(e) => setUser((e.target as HTMLInputElement).value)} data-testid="preview-user" />
          </div>
          <div class="field">
            <label for="preview-locale">Locale</label>
            <input id="preview-locale" value={previewLocale} placeholder={content.locale} onChange={(e) => setPreviewLocale((e.target as HTMLInputElement).value)} data-testid="preview-locale" />
          </div>
        </div>
        <div class="field">
          <label for="preview-data">Data (JSON object)</label>
          <textarea id="preview-data" rows={3} value={dataText} onChange={(e) => setDataText((e.target as HTMLTextAreaElement).value)} data-testid="preview-data" />
        </div>
        {previewError && previewError.issues.length === 0 ? <ErrorNotice error={previewError} testId="preview-error" /> : null}
        {previewError && previewError.issues.length > 0 ? (
          <p class="muted" data-testid="preview-stale">
            The preview shows the last draft Herald could render.
          </p>
        ) : null}
        {preview ? (
          <dl class="facts rendered" data-testid="preview-output">
            <dt>Rendered for</dt>
            <dd>
              {preview.contact ? preview.contact.externalId : 'no user'} · locale {preview.render.locale}
            </dd>
            <dt>Title</dt>
            <dd data-testid="preview-title">{preview.render.title ?? ''}</dd>
            <dt>Body</dt>
            <dd data-testid="preview-body" class="wrap">
              {preview.render.body ?? ''}
            </dd>
            {preview.render.email ? (
              <>
                <dt>Email subject</dt>
                <dd data-testid="preview-email-subject">{preview.render.email.subject ?? ''}</dd>
                <dt>Email HTML</dt>
                <dd>
                  <pre class="code">{preview.render.email.html ?? ''}</pre>
                </dd>
                <dt>Email text</dt>
                <dd class="wrap">{preview.render.email.text ?? ''}</dd>
              </>
            ) : null}
            {preview.render.sms ? (
              <>
                <dt>SMS</dt>
                <dd class="wrap">{preview.render.sms.text}</dd>
              </>
            ) : null}
          </dl>
        ) : previewError ? null : (
          <p role="status">Rendering…</p>
        )}
      </section>
    </div>
  );
}
