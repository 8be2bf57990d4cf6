/** @jsxImportSource preact */
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ConsoleError, type ConsoleClient } from './client.ts';

export const ClientContext = createContext<ConsoleClient | null>(null);

export function useClient(): ConsoleClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('no console client');
  return client;
}

export interface Async<T> {
  data: T | undefined;
  error: ConsoleError | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Runs `load` now and whenever `deps` change; a late answer of an older run is dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: ConsoleError; loading: boolean }>({ loading: true });
  const run = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++run.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await load();
      if (mine === run.current) setState({ data, loading: false });
    } catch (error) {
      if (mine === run.current) setState((s) => ({ data: s.data, error: asConsoleError(error), loading: false }));
    }
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function asConsoleError(error: unknown): ConsoleError {
  return error instanceof ConsoleError ? error : new ConsoleError(error instanceof Error ? error.message : String(error));
}

export function ErrorNotice({ error, testId = 'error' }: { error: ConsoleError | undefined | null; testId?: string }) {
  if (!error) return null;
  return (
    <div class="notice error" role="alert" data-testid={testId}>
      <strong>{error.code ? `${error.code}: ` : ''}</strong>
      {error.message}
    </div>
  );
}

/**
 * A page's heading takes the focus when the page opens, so a screen reader announces where it went.
 * A layout effect: the focus moves in the same task as the heading appears (a plain effect runs a
 * frame later, and a keypress in between would still land on the link that opened the page).
 */
export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => {
    document.title = `${title} · Herald console`;
    heading.current?.focus();
  }, [title]);
  return (
    <>
      <div class="page-head">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {actions}
      </div>
      {children}
    </>
  );
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

export function Time({ iso }: { iso: string | null | undefined }) {
  return iso ? <time dateTime={iso}>{fmtTime(iso)}</time> : <span>—</span>;
}

/** A table's column headers. */
export function Columns({ names }: { names: string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th scope="col" key={name}>
            {name}
          </th>
        ))}
      </tr>
    </thead>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`status status-${status.toLowerCase()}`} data-testid="status-badge">
      {status}
    </span>
  );
}

export const CHANNELS = ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK'] as const;
export const STATUSES = ['QUEUED', 'SCHEDULED', 'SENDING', 'SENT', 'DELIVERED', 'FAILED', 'SKIPPED', 'CANCELED'] as const;

/** Parses a JSON object typed into a textarea; null for empty. */
export function parseJsonObject(text: string, field: string): Record<string, unknown> | null {
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConsoleError(`${field}: not valid JSON (${(error as Error).message})`, 'BAD_USER_INPUT');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConsoleError(`${field}: must be a JSON object`, 'BAD_USER_INPUT');
  return value as Record<string, unknown>;
}

/** A short, copyable form of a uuid for tables (the full id is in the title and the link). */
export function shortId(id: string | null | undefined): string {
  if (!id) return '—';
  return id.length > 12 ? `…${id.slice(-8)}` : id;
}

export function href(path: string): string {
  return `#${path}`;
}

