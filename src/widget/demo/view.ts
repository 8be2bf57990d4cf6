import type { ConnectionState } from './client.ts';
import type { Item } from './inbox.ts';

export interface ViewActions {
  markRead(id: string, button: HTMLButtonElement): void;
  archive(id: string, button: HTMLButtonElement): void;
  markAllRead(button: HTMLButtonElement): void;
}

const STATE_LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  forbidden: 'Refused',
};

function must<T extends Element = HTMLElement>(root: ParentNode, testId: string): T {
  const element = root.querySelector<T>(`[data-testid="${testId}"]`);
  if (!element) throw new Error(`The page has no [data-testid="${testId}"]`);
  return element;
}

/**
 * The page's DOM (the skeleton is in index.html). Rows are keyed by item id and updated in
 * place, so a row being clicked is never replaced under the pointer. Notification text is
 * set with textContent only: titles and bodies are rendered from senders' data.
 */
export class InboxView {
  private readonly rows = new Map<string, HTMLLIElement>();
  private readonly list: HTMLUListElement;
  private readonly count: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly status: HTMLElement;
  private readonly error: HTMLElement;
  private readonly markAll: HTMLButtonElement;
  private readonly bell: HTMLButtonElement;

  constructor(root: Document, actions: ViewActions) {
    this.list = must(root, 'inbox-list');
    this.count = must(root, 'unread-count');
    this.empty = must(root, 'empty');
    this.status = must(root, 'status');
    this.error = must(root, 'error');
    this.markAll = must(root, 'mark-all-read');
    const bell = (this.bell = must<HTMLButtonElement>(root, 'bell'));
    const panel = must<HTMLElement>(root, 'panel');
    bell.addEventListener('click', () => {
      const open = bell.getAttribute('aria-expanded') !== 'true';
      bell.setAttribute('aria-expanded', String(open));
      panel.hidden = !open;
    });
    this.markAll.addEventListener('click', () => actions.markAllRead(this.markAll));
    // One listener for every row, present and future.
    this.list.addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-action]');
      const id = button?.closest<HTMLElement>('[data-id]')?.dataset.id;
      if (!button || !id) return;
      if (button.dataset.action === 'read') actions.markRead(id, button);
      else if (button.dataset.action === 'archive') actions.archive(id, button);
    });
  }

  render(items: Item[], unreadCount: number): void {
    this.count.textContent = String(unreadCount);
    this.count.dataset.count = String(unreadCount);
    this.bell.setAttribute('aria-label', `Notifications, ${unreadCount} unread`);
    this.markAll.disabled = unreadCount === 0;
    this.empty.hidden = items.length > 0;
    const keep = new Set(items.map((i) => i.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    items.forEach((item, index) => {
      let row = this.rows.get(item.id);
      if (!row) {
        row = createRow(item.id);
        this.rows.set(item.id, row);
      }
      updateRow(row, item);
      const at = this.list.children[index];
      if (at !== row) this.list.insertBefore(row, at ?? null);
    });
  }

  setState(state: ConnectionState, detail?: string): void {
    this.status.dataset.state = state;
    this.status.textContent = STATE_LABELS[state];
    this.status.title = detail ?? '';
    if (state === 'forbidden') this.showError(detail ?? 'Herald refused these credentials');
  }

  /** After the first snapshot: from then on the list is the server's (tests wait for it). */
  markSynced(): void {
    this.status.dataset.synced = 'true';
  }

  showError(message: string | null): void {
    this.error.hidden = message === null;
    this.error.textContent = message ?? '';
  }
}

function createRow(id: string): HTMLLIElement {
  const row = document.createElement('li');
  row.className = 'item';
  row.dataset.testid = 'inbox-item';
  row.dataset.id = id;
  const text = row.appendChild(document.createElement('div'));
  text.className = 'text';
  const title = text.appendChild(document.createElement('strong'));
  title.dataset.testid = 'item-title';
  const stack = text.appendChild(document.createElement('span'));
  stack.className = 'stack';
  stack.dataset.testid = 'item-stack';
  const body = text.appendChild(document.createElement('p'));
  body.dataset.testid = 'item-body';
  const time = text.appendChild(document.createElement('time'));
  time.dataset.testid = 'item-time';
  const buttons = row.appendChild(document.createElement('div'));
  buttons.className = 'actions';
  for (const [action, label, testId] of [
    ['read', 'Mark read', 'mark-read'],
    ['archive', 'Archive', 'archive'],
  ] as const) {
    const button = buttons.appendChild(document.createElement('button'));
    button.type = 'button';
    button.dataset.action = action;
    button.dataset.testid = testId;
    button.textContent = label;
  }
  return row;
}

function updateRow(row: HTMLLIElement, item: Item): void {
  const read = item.readAt !== null;
  row.dataset.read = String(read);
  row.classList.toggle('unread', !read);
  must(row, 'item-title').textContent = item.title ?? '(no title)';
  const stack = must(row, 'item-stack');
  stack.hidden = item.stackCount < 2;
  stack.textContent = `×${item.stackCount}`;
  const body = must(row, 'item-body');
  body.hidden = !item.body;
  body.textContent = item.body ?? '';
  const time = must<HTMLTimeElement>(row, 'item-time');
  time.dateTime = item.createdAt;
  time.textContent = new Date(item.createdAt).toLocaleString();
  const markRead = must<HTMLButtonElement>(row, 'mark-read');
  markRead.hidden = read;
  markRead.disabled = false;
}
