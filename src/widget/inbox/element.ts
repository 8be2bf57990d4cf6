import { HeraldClient, HeraldError, tokenExpiry, type ConnectionState, type Credentials, type InboxEvent, type Item } from './client.ts';
import { ARCHIVE, BELL, CHECK, TRASH, UNARCHIVE, UNREAD } from './icons.ts';
import { filterOf, InboxModel, parseTabs, type Tab } from './model.ts';
import { STYLES } from './styles.ts';

/**
 * <herald-inbox>: a bell with the live unread count and a popover feed of the user's Herald
 * inbox. Framework-free (a custom element with an open shadow root), themed by CSS custom
 * properties, keyboard and screen-reader accessible. See the README's "Inbox component".
 */

const RETRY_MS = 3_000;
const TIME_REFRESH_MS = 30_000;
const DEFAULT_PAGE_SIZE = 20;

/** What the component shows overall; exactly one of these at a time (host `data-state`). */
type Phase = 'loading' | 'ready' | 'unreachable' | 'refused' | 'expired' | 'unconfigured';

interface Action {
  id: string;
  label: string;
  url: string | null;
  disabled: boolean;
  secondary: boolean;
}

const CREDENTIAL_ATTRIBUTES = ['project-id', 'user-id', 'user-hash', 'token', 'server', 'categories', 'page-size'];

let uid = 0;

export class HeraldInboxElement extends HTMLElement {
  static observedAttributes = [...CREDENTIAL_ATTRIBUTES, 'locale', 'deletable'];

  readonly #root: ShadowRoot;
  readonly #id = `hi${++uid}`;
  #built = false;
  #els!: {
    bell: HTMLButtonElement;
    badge: HTMLElement;
    panel: HTMLElement;
    markAll: HTMLButtonElement;
    banner: HTMLElement;
    toast: HTMLElement;
    tabs: HTMLElement;
    feed: HTMLElement;
    list: HTMLUListElement;
    state: HTMLElement;
    more: HTMLElement;
    live: HTMLElement;
  };

  #client: HeraldClient | null = null;
  #model = new InboxModel(parseTabs(null));
  #live: { close(): void; retryNow(): void } | null = null;
  /** Bumped on every (re)start: answers of an older session are dropped. */
  #session = 0;
  #phase: Phase = 'loading';
  #detail = '';
  #connection: ConnectionState = 'connecting';
  #active = 'all';
  #open = false;
  /** Page loads in flight; events that arrive meanwhile wait in #held and are applied after. */
  #pending = 0;
  #held: InboxEvent[] | null = null;
  #resyncAgain = false;
  #busy = new Set<string>();
  #seenAsked = new Set<string>();
  #rows = new Map<string, { row: HTMLLIElement; version: string }>();
  #timers: ReturnType<typeof setTimeout>[] = [];
  #clock: ReturnType<typeof setInterval> | undefined;
  #lastCount: number | null = null;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open', delegatesFocus: false });
  }

  /** The unread count, or null before the first page (or when the credentials are refused). */
  get unreadCount(): number | null {
    return this.#phase === 'ready' ? this.#model.unreadCount : null;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  connectedCallback(): void {
    if (!this.#built) this.#build();
    this.#start();
    addEventListener('online', this.#onOnline);
    addEventListener('offline', this.#onOffline);
    document.addEventListener('pointerdown', this.#onOutside, true);
    this.#clock = setInterval(() => this.#refreshTimes(), TIME_REFRESH_MS);
  }

  disconnectedCallback(): void {
    this.#stop();
    removeEventListener('online', this.#onOnline);
    removeEventListener('offline', this.#onOffline);
    document.removeEventListener('pointerdown', this.#onOutside, true);
    clearInterval(this.#clock);
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (!this.isConnected || !this.#built || before === after) return;
    if (CREDENTIAL_ATTRIBUTES.includes(name)) {
      // A new token (the host refreshing an expired one), user or server: start over.
      this.#stop();
      this.#start();
    } else {
      // A new locale (rows are rebuilt with its relative times), or deletable set or removed.
      this.#rows.clear();
      this.#els.list.replaceChildren();
      this.#render();
    }
  }

  /** Opens the popover and moves focus into it. */
  show(): void {
    if (this.#open) return;
    this.#open = true;
    this.#render();
    const selected = this.#root.querySelector<HTMLElement>('[role="tab"][aria-selected="true"]');
    selected?.focus();
    this.#afterRender();
  }

  /** Closes the popover; focus goes back to the bell when it was inside. */
  hide(returnFocus = true): void {
    if (!this.#open) return;
    this.#open = false;
    const hadFocus = this.#root.activeElement !== null;
    this.#render();
    if (returnFocus && hadFocus) this.#els.bell.focus();
  }

  // ---------------------------------------------------------------- DOM

  #build(): void {
    this.#built = true;
    if ('adoptedStyleSheets' in this.#root && typeof CSSStyleSheet.prototype.replaceSync === 'function') {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      this.#root.adoptedStyleSheets = [sheet];
    } else {
      const style = document.createElement('style');
      style.textContent = STYLES;
      this.#root.append(style);
    }
    const id = this.#id;
    const wrap = document.createElement('div');
    wrap.innerHTML = `
      <button type="button" class="bell" part="bell" data-testid="bell" aria-haspopup="dialog" aria-expanded="false" aria-controls="${id}-panel" aria-label="Notifications">
        ${BELL}<span class="badge" part="badge" data-testid="unread-count" aria-hidden="true" hidden></span>
      </button>
      <div class="sr-only" role="status" aria-live="polite" data-testid="announcer"></div>
      <div class="panel" part="panel" id="${id}-panel" role="dialog" aria-modal="true" aria-labelledby="${id}-heading" data-testid="panel" hidden>
        <div class="head">
          <h2 id="${id}-heading">Notifications</h2>
          <button type="button" class="text-button" data-testid="mark-all-read" disabled>Mark all as read</button>
        </div>
        <p class="banner" role="status" data-testid="offline" hidden>You are offline. New notifications will appear when the connection is back.</p>
        <p class="toast" role="alert" data-testid="toast" hidden></p>
        <div class="tabs" role="tablist" aria-label="Filter notifications" data-testid="tabs"></div>
        <div class="feed" id="${id}-feed" role="tabpanel" tabindex="0" data-testid="feed">
          <ul class="items" data-testid="inbox-list"></ul>
          <div class="more" data-testid="more" hidden>Loading more…</div>
          <div class="state" data-testid="state"></div>
        </div>
      </div>`;
    this.#root.append(...wrap.childNodes);
    const q = <T extends HTMLElement>(selector: string) => this.#root.querySelector<T>(selector)!;
    this.#els = {
      bell: q('.bell'),
      badge: q('.badge'),
      panel: q('.panel'),
      markAll: q('[data-testid="mark-all-read"]'),
      banner: q('.banner'),
      toast: q('.toast'),
      tabs: q('.tabs'),
      feed: q('.feed'),
      list: q('.items'),
      state: q('.state'),
      more: q('.more'),
      live: q('[data-testid="announcer"]'),
    };
    const { bell, panel, markAll, tabs, list, feed, state } = this.#els;
    bell.addEventListener('click', () => (this.#open ? this.hide() : this.show()));
    panel.addEventListener('keydown', (event) => this.#onKeydown(event));
    markAll.addEventListener('click', () => {
      const tab = this.#model.tab(this.#active);
      void this.#act('mark-all', () => this.#client!.markAllRead(tab.category), 'mark all as read');
    });
    tabs.addEventListener('click', (event) => {
      const key = (event.target as Element).closest<HTMLElement>('[role="tab"]')?.dataset.key;
      if (key) this.#select(key, false);
    });
    list.addEventListener('click', (event) => this.#onRowClick(event));
    feed.addEventListener('scroll', () => this.#maybeLoadMore(), { passive: true });
    state.addEventListener('click', (event) => {
      if ((event.target as Element).closest('[data-testid="retry"]')) void this.#loadPage(this.#active, true, this.#session);
    });
  }

  #onKeydown(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.hide();
      return;
    }
    const target = event.target as HTMLElement;
    if (target.getAttribute('role') === 'tab' && (event.key === 'ArrowRight' || event.key === 'ArrowLeft' || event.key === 'Home' || event.key === 'End')) {
      event.preventDefault();
      const keys = this.#model.tabs.map((t) => t.key);
      const at = keys.indexOf(this.#active);
      const next = event.key === 'Home' ? 0 : event.key === 'End' ? keys.length - 1 : (at + (event.key === 'ArrowRight' ? 1 : -1) + keys.length) % keys.length;
      this.#select(keys[next]!, true);
      return;
    }
    if (event.key !== 'Tab') return;
    // The popover is modal for the keyboard: Tab and Shift+Tab cycle inside it.
    const focusable = [...this.#els.panel.querySelectorAll<HTMLElement>('button, a[href], [tabindex]')].filter(
      (e) => !(e as HTMLButtonElement).disabled && e.tabIndex >= 0 && e.getClientRects().length > 0,
    );
    if (focusable.length === 0) return;
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    const current = this.#root.activeElement;
    if (event.shiftKey && (current === first || !this.#els.panel.contains(current))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && current === last) {
      event.preventDefault();
      first.focus();
    }
  }

  #onOutside = (event: Event): void => {
    if (this.#open && !event.composedPath().includes(this)) this.hide(false);
  };

  #onOnline = (): void => {
    this.#live?.retryNow();
    this.#render();
  };

  #onOffline = (): void => this.#render();

  #select(key: string, focus: boolean): void {
    this.#active = key;
    const state = this.#model.of(key);
    if (!state.loaded && !state.loading && this.#phase === 'ready') void this.#loadPage(key, true, this.#session);
    this.#render();
    this.#els.feed.scrollTop = 0;
    if (focus) this.#root.querySelector<HTMLElement>(`[role="tab"][data-key="${CSS.escape(key)}"]`)?.focus();
    this.#afterRender();
  }

  #onRowClick(event: Event): void {
    const target = event.target as Element;
    const row = target.closest<HTMLElement>('[data-id]');
    const id = row?.dataset.id;
    const item = id ? this.#findItem(id) : undefined;
    if (!id || !item) return;
    const button = target.closest<HTMLButtonElement>('button[data-op]');
    if (target.closest('a.title-link')) {
      if (!item.readAt) void this.#act(`read:${id}`, () => this.#client!.markRead([id]), 'mark it as read');
      return;
    }
    if (!button) return;
    const op = button.dataset.op;
    if (op === 'toggle-read') {
      if (item.readAt) void this.#act(`read:${id}`, () => this.#client!.markUnread([id]), 'mark it as unread');
      else void this.#act(`read:${id}`, () => this.#client!.markRead([id]), 'mark it as read');
    } else if (op === 'toggle-archive') {
      if (item.archivedAt) void this.#act(`archive:${id}`, () => this.#client!.unarchive([id]), 'restore it');
      else void this.#act(`archive:${id}`, () => this.#client!.archive([id]), 'archive it');
    } else if (op === 'delete') {
      // The row goes when the DELETED event comes back (every tab of the user gets it).
      void this.#act(`delete:${id}`, () => this.#client!.deleteItems([id]), 'delete it');
    } else if (op === 'action') {
      const action = actionsOf(item).find((a) => a.id === button.dataset.actionId);
      if (!action) return;
      void this.#act(`action:${id}`, async () => {
        const result = await this.#client!.performAction(id, action.id);
        const proceed = this.dispatchEvent(
          new CustomEvent('herald-action', { bubbles: true, composed: true, cancelable: true, detail: { item, action: result.performAction.action } }),
        );
        if (proceed && action.url) location.assign(action.url);
      }, `do “${action.label}”`);
    }
  }

  #findItem(id: string): Item | undefined {
    for (const state of this.#model.state.values()) {
      const item = state.items.get(id);
      if (item) return item;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- data

  #credentials(): Credentials | null {
    const token = this.getAttribute('token');
    if (token) return { kind: 'token', token };
    const projectId = this.getAttribute('project-id');
    const userId = this.getAttribute('user-id');
    const userHash = this.getAttribute('user-hash');
    return projectId && userId && userHash ? { kind: 'hash', projectId, userId, userHash } : null;
  }

  #pageSize(): number {
    const n = Number(this.getAttribute('page-size'));
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : DEFAULT_PAGE_SIZE;
  }

  #start(): void {
    const session = ++this.#session;
    const tabs = parseTabs(this.getAttribute('categories'));
    this.#model = new InboxModel(tabs);
    if (!tabs.some((t) => t.key === this.#active)) this.#active = 'all';
    this.#rows.clear();
    this.#els.list.replaceChildren();
    this.#pending = 0;
    this.#held = null;
    this.#busy.clear();
    this.#seenAsked.clear();
    this.#connection = 'connecting';
    const credentials = this.#credentials();
    if (!credentials) {
      this.#setPhase('unconfigured', 'Set project-id, user-id and user-hash, or token.');
      return;
    }
    const origin = this.getAttribute('server') || scriptOrigin || location.origin;
    this.#client = new HeraldClient(origin, credentials);
    this.#setPhase('loading');
    void this.#begin(session);
  }

  #stop(): void {
    this.#session++;
    this.#live?.close();
    this.#live = null;
    this.#timers.forEach(clearTimeout);
    this.#timers = [];
  }

  #later(fn: () => void, ms: number): void {
    this.#timers.push(setTimeout(fn, ms));
  }

  /**
   * Gap-free start: the cursor of the latest event first, then the first page, then the
   * subscription from that cursor; whatever changed in between is replayed (and applying it
   * again on top of the page changes nothing).
   */
  async #begin(session: number): Promise<void> {
    try {
      const cursor = await this.#client!.cursor();
      if (session !== this.#session) return;
      this.#model.lastCursor = cursor;
    } catch (error) {
      if (session !== this.#session) return;
      if (this.#refused(error)) return;
      this.#setPhase('unreachable', message(error));
      this.#later(() => void this.#begin(session), RETRY_MS);
      return;
    }
    const ok = await this.#loadPage(this.#active, true, session);
    if (session !== this.#session || this.#phase === 'refused' || this.#phase === 'expired') return;
    if (!ok) {
      this.#setPhase('unreachable', this.#model.of(this.#active).error ?? '');
      this.#later(() => void this.#begin(session), RETRY_MS);
      return;
    }
    this.#setPhase('ready');
    this.#goLive(session);
  }

  #goLive(session: number): void {
    this.#live = this.#client!.live({
      since: () => this.#model.lastCursor,
      onEvent: (event) => {
        if (session !== this.#session) return;
        if (this.#held) this.#held.push(event);
        else {
          this.#apply(event);
          this.#render();
          this.#afterRender();
        }
      },
      onEventError: (error) => {
        if (session !== this.#session) return;
        this.#showToast(`An update could not be read (${error}); reloading.`);
        this.#resync(session);
      },
      onState: (state, detail) => {
        if (session !== this.#session) return;
        this.#connection = state;
        if (state === 'refused') {
          this.#refused(new HeraldError(detail || 'Herald refused these credentials', 'UNAUTHENTICATED'));
          return;
        }
        this.#render();
        this.#emit('herald-state', { state: this.dataset.state });
      },
    });
  }

  /** Answers whether `error` refused the credentials (then the component says so and stops). */
  #refused(error: unknown): boolean {
    if (!(error instanceof HeraldError) || !error.isAuth) return false;
    const token = this.getAttribute('token');
    const exp = token ? tokenExpiry(token) : null;
    this.#stop();
    if (exp !== null && exp <= Date.now() + 5_000) {
      this.#setPhase('expired', error.message);
      // The host can hand a fresh token: setting the attribute starts over.
      this.#emit('herald-token-expired', {});
    } else this.#setPhase('refused', error.message);
    return true;
  }

  /** Loads a tab's first (`first`) or next page; answers whether it came in. */
  async #loadPage(key: string, first: boolean, session: number): Promise<boolean> {
    const state = this.#model.of(key);
    if (state.loading) return false;
    state.loading = true;
    state.error = null;
    this.#pending++;
    this.#held ??= [];
    this.#render();
    let ok = false;
    try {
      const data = await this.#client!.page(this.#pageSize(), first ? null : state.endCursor, filterOf(this.#model.tab(key)));
      if (session !== this.#session) return false;
      this.#model.addPage(key, data.inbox.edges.map((e) => e.node), data.inbox.pageInfo, data.unreadCount, first);
      ok = true;
    } catch (error) {
      if (session !== this.#session) return false;
      if (!this.#refused(error)) state.error = message(error);
    } finally {
      if (session === this.#session) {
        state.loading = false;
        this.#pending--;
        if (this.#pending === 0) {
          const events = this.#held ?? [];
          this.#held = null;
          for (const event of events) this.#apply(event);
        }
        this.#render();
        this.#afterRender();
      }
    }
    if (ok && this.#resyncAgain && this.#pending === 0) {
      this.#resyncAgain = false;
      this.#resync(session);
    }
    return ok;
  }

  #apply(event: InboxEvent): void {
    const result = this.#model.apply(event);
    if (result === 'resync') this.#resync(this.#session);
    if (result === 'applied' && event.type === 'CREATED' && event.item) this.#announce(`New notification: ${event.item.title ?? ''}`);
  }

  /** Reloads the active tab from its first page; other tabs reload when selected. */
  #resync(session: number): void {
    if (this.#pending > 0) {
      // The page in flight may predate the change that asked for this.
      this.#resyncAgain = true;
      return;
    }
    for (const state of this.#model.state.values()) if (!state.loading) state.loaded = false;
    void this.#loadPage(this.#active, true, session);
  }

  async #act(key: string, action: () => Promise<unknown>, what: string): Promise<void> {
    if (this.#busy.has(key) || !this.#client) return;
    this.#busy.add(key);
    this.#render();
    const session = this.#session;
    try {
      await action();
      // No local update: the change comes back as an inbox event, with the committed count.
      this.#showToast(null);
    } catch (error) {
      if (session === this.#session && !this.#refused(error)) this.#showToast(`Could not ${what}: ${message(error)}`);
    } finally {
      this.#busy.delete(key);
      if (session === this.#session) this.#render();
    }
  }

  /** Items shown in the open popover are marked seen (in one request). */
  #markSeen(): void {
    if (!this.#open || this.#phase !== 'ready' || !this.#client) return;
    const ids = this.#model.list(this.#active).filter((i) => !i.seenAt && !this.#seenAsked.has(i.id)).map((i) => i.id);
    if (ids.length === 0) return;
    ids.forEach((id) => this.#seenAsked.add(id));
    this.#client.markSeen(ids).catch(() => ids.forEach((id) => this.#seenAsked.delete(id)));
  }

  #maybeLoadMore(): void {
    if (!this.#open || this.#phase !== 'ready') return;
    const state = this.#model.of(this.#active);
    if (!state.loaded || !state.hasMore || state.loading || state.error) return;
    const feed = this.#els.feed.getBoundingClientRect();
    const end = this.#els.list.getBoundingClientRect().bottom;
    if (end - feed.bottom < 120) void this.#loadPage(this.#active, false, this.#session);
  }

  #afterRender(): void {
    this.#markSeen();
    this.#maybeLoadMore();
  }

  // ---------------------------------------------------------------- rendering

  #setPhase(phase: Phase, detail = ''): void {
    this.#phase = phase;
    this.#detail = detail;
    this.#render();
    this.#emit('herald-state', { state: this.dataset.state });
  }

  #emit(name: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(name, { bubbles: true, composed: true, detail }));
  }

  #announce(text: string): void {
    this.#els.live.textContent = text;
  }

  #showToast(text: string | null): void {
    this.#els.toast.textContent = text ?? '';
    this.#els.toast.hidden = text === null;
  }

  #hostState(): string {
    if (this.#phase !== 'ready') return this.#phase;
    return this.#connection === 'live' ? 'live' : this.#connection === 'connecting' ? 'connecting' : 'reconnecting';
  }

  #render(): void {
    if (!this.#built) return;
    const { bell, badge, panel, markAll, banner, feed, list, state: stateEl, more } = this.#els;
    const ready = this.#phase === 'ready';
    const count = ready ? (this.#model.unreadCount ?? 0) : null;
    this.dataset.state = this.#hostState();
    this.toggleAttribute('data-open', this.#open);

    // Bell: a count only once it is known, never under an error.
    badge.hidden = !count;
    badge.textContent = count ? (count > 99 ? '99+' : String(count)) : '';
    badge.dataset.count = String(count ?? '');
    bell.setAttribute('aria-label', count ? `Notifications, ${count} unread` : this.#phase === 'refused' || this.#phase === 'expired' ? 'Notifications, unavailable' : 'Notifications');
    bell.setAttribute('aria-expanded', String(this.#open));
    if (count !== this.#lastCount) {
      this.#lastCount = count;
      if (count !== null) this.#emit('herald-unread-change', { count });
    }
    panel.hidden = !this.#open;

    const tab = this.#model.tab(this.#active);
    const tabState = this.#model.of(this.#active);
    const items = ready ? this.#model.list(this.#active) : [];
    this.#renderTabs();
    feed.setAttribute('aria-labelledby', `${this.#id}-tab-${tabKeyId(this.#active)}`);
    feed.setAttribute('aria-busy', String(!ready || (tabState.loading && !tabState.loaded)));
    const tabUnread = tab.archived ? false : tab.category === null ? (count ?? 0) > 0 : items.some((i) => !i.readAt);
    markAll.disabled = !ready || !tabUnread;
    // Nothing left to mark: focus must not fall out of the popover with the disabled button.
    if (markAll.disabled && this.#root.activeElement === markAll) feed.focus();
    banner.hidden = !(ready && (this.#connection === 'reconnecting' || !navigator.onLine));

    // One message at most, and never one that contradicts another.
    let text = '';
    let kind = 'info';
    let retry = false;
    if (this.#phase === 'loading' || (ready && !tabState.loaded && !tabState.error)) text = 'Loading notifications…';
    else if (this.#phase === 'unreachable') ((text = 'Herald cannot be reached right now. Retrying…'), (kind = 'error'));
    else if (this.#phase === 'refused') ((text = 'Notifications are unavailable: Herald refused these credentials.'), (kind = 'error'));
    else if (this.#phase === 'expired') ((text = 'Your session expired. Reload the page to see your notifications.'), (kind = 'error'));
    else if (this.#phase === 'unconfigured') ((text = `This inbox is not configured. ${this.#detail}`), (kind = 'error'));
    else if (tabState.error && items.length === 0) ((text = 'Could not load notifications.'), (kind = 'error'), (retry = true));
    else if (items.length === 0) text = tab.archived ? 'Nothing archived' : tab.category === null ? 'No notifications yet' : `No notifications in ${tab.label}`;
    stateEl.hidden = text === '';
    stateEl.dataset.kind = kind;
    stateEl.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    stateEl.textContent = text;
    if (retry) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'text-button';
      button.dataset.testid = 'retry';
      button.textContent = 'Try again';
      stateEl.append(button);
    }
    more.hidden = !(ready && tabState.loaded && tabState.loading && items.length > 0);
    this.#renderItems(items);
  }

  #renderTabs(): void {
    const { tabs } = this.#els;
    if (tabs.childElementCount !== this.#model.tabs.length || tabs.dataset.for !== this.#model.tabs.map((t) => t.key).join(',')) {
      tabs.dataset.for = this.#model.tabs.map((t) => t.key).join(',');
      tabs.replaceChildren(
        ...this.#model.tabs.map((t: Tab) => {
          const button = document.createElement('button');
          button.type = 'button';
          button.className = 'tab';
          button.setAttribute('role', 'tab');
          button.id = `${this.#id}-tab-${tabKeyId(t.key)}`;
          button.dataset.key = t.key;
          button.dataset.testid = `tab-${t.key}`;
          button.setAttribute('aria-controls', `${this.#id}-feed`);
          button.textContent = t.label;
          return button;
        }),
      );
    }
    for (const button of tabs.children as HTMLCollectionOf<HTMLButtonElement>) {
      const selected = button.dataset.key === this.#active;
      button.setAttribute('aria-selected', String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
  }

  /** Rows are keyed by item id and updated in place; focus inside a removed row moves to a neighbour. */
  #renderItems(items: Item[]): void {
    const { list, feed } = this.#els;
    const focused = this.#root.activeElement as HTMLElement | null;
    const focusedRow = focused?.closest<HTMLLIElement>('li[data-id]') ?? null;
    const focusedOp = focused?.dataset.op ?? focused?.dataset.role ?? null;
    const keep = new Set(items.map((i) => i.id));
    let refocus: HTMLElement | null = null;
    if (focusedRow && !keep.has(focusedRow.dataset.id!)) {
      const neighbour = (focusedRow.nextElementSibling ?? focusedRow.previousElementSibling) as HTMLLIElement | null;
      refocus = neighbour && keep.has(neighbour.dataset.id!) ? neighbour : feed;
    }
    for (const [id, entry] of this.#rows) {
      if (!keep.has(id)) {
        entry.row.remove();
        this.#rows.delete(id);
      }
    }
    const locale = this.getAttribute('locale') || navigator.language;
    items.forEach((item, index) => {
      const version = JSON.stringify([item, this.#busy.has(`read:${item.id}`), this.#busy.has(`archive:${item.id}`), this.#busy.has(`action:${item.id}`), this.#busy.has(`delete:${item.id}`)]);
      let entry = this.#rows.get(item.id);
      if (!entry || entry.version !== version) {
        const hadFocus = entry?.row.contains(focused) ?? false;
        const row = this.#buildRow(item, locale);
        if (entry) entry.row.replaceWith(row);
        entry = { row, version };
        this.#rows.set(item.id, entry);
        if (hadFocus) refocus = row.querySelector<HTMLElement>(`[data-op="${focusedOp}"], [data-role="${focusedOp}"]`) ?? row.querySelector('button');
      }
      if (list.children[index] !== entry.row) list.insertBefore(entry.row, list.children[index] ?? null);
    });
    if (refocus) {
      const target = refocus instanceof HTMLLIElement ? (refocus.querySelector<HTMLElement>(`[data-op="${focusedOp}"]`) ?? refocus.querySelector('button')) : refocus;
      target?.focus();
    }
  }

  #buildRow(item: Item, locale: string): HTMLLIElement {
    const row = document.createElement('li');
    row.className = 'item';
    row.dataset.id = item.id;
    row.dataset.testid = 'inbox-item';
    row.dataset.read = String(Boolean(item.readAt));
    row.dataset.seen = String(Boolean(item.seenAt));
    const dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    const content = el('div', 'content');
    const title = el('p', 'title');
    title.dataset.testid = 'item-title';
    if (!item.readAt) {
      const unread = el('span', 'sr-only');
      unread.textContent = 'Unread: ';
      title.append(unread);
    }
    const href = safeUrl(item.redirection);
    const titleText = item.title ?? '(no title)';
    if (href) {
      const link = el('a', 'title-link');
      link.setAttribute('href', href);
      link.dataset.role = 'link';
      link.append(titleText);
      title.append(link);
    } else title.append(titleText);
    content.append(title);
    if (item.body) {
      const body = el('p', 'body');
      body.textContent = item.body;
      content.append(body);
    }
    const time = el('time', 'meta');
    time.setAttribute('datetime', item.createdAt);
    time.title = new Date(item.createdAt).toLocaleString(locale);
    time.textContent = relativeTime(item.createdAt, locale) + (item.stackCount > 1 ? ` · ×${item.stackCount}` : '');
    content.append(time);
    const actions = actionsOf(item);
    if (actions.length > 0) {
      const bar = el('div', 'actions');
      for (const action of actions) {
        const button = el('button', action.secondary ? 'action secondary' : 'action');
        button.type = 'button';
        button.dataset.op = 'action';
        button.dataset.actionId = action.id;
        button.dataset.testid = 'action';
        button.disabled = action.disabled;
        // Busy buttons stay focusable (a disabled one would drop the keyboard user's focus): clicks are ignored meanwhile.
        if (this.#busy.has(`action:${item.id}`)) button.setAttribute('aria-disabled', 'true');
        button.textContent = action.label;
        bar.append(button);
      }
      content.append(bar);
    }
    const tools = el('div', 'tools');
    const read = iconButton(item.readAt ? 'Mark as unread' : 'Mark as read', item.readAt ? UNREAD : CHECK, 'toggle-read', this.#busy.has(`read:${item.id}`));
    read.dataset.testid = item.readAt ? 'mark-unread' : 'mark-read';
    const archive = iconButton(item.archivedAt ? 'Restore from archive' : 'Archive', item.archivedAt ? UNARCHIVE : ARCHIVE, 'toggle-archive', this.#busy.has(`archive:${item.id}`));
    archive.dataset.testid = item.archivedAt ? 'unarchive' : 'archive';
    tools.append(read, archive);
    // Opt-in: deleting is for good, a choice of the host application.
    if (this.hasAttribute('deletable')) {
      const remove = iconButton('Delete', TRASH, 'delete', this.#busy.has(`delete:${item.id}`));
      remove.dataset.testid = 'delete';
      tools.append(remove);
    }
    row.append(dot, content, tools);
    return row;
  }

  #refreshTimes(): void {
    const locale = this.getAttribute('locale') || navigator.language;
    for (const { row } of this.#rows.values()) {
      const time = row.querySelector('time');
      const item = this.#findItem(row.dataset.id!);
      if (time && item) time.textContent = relativeTime(item.createdAt, locale) + (item.stackCount > 1 ? ` · ×${item.stackCount}` : '');
    }
  }
}

// ---------------------------------------------------------------- helpers

/** The origin this module was loaded from: the default Herald server of the element. */
const scriptOrigin = (() => {
  try {
    return new URL(import.meta.url).origin;
  } catch {
    return null;
  }
})();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = className;
  return element;
}

function iconButton(label: string, icon: string, op: string, disabled: boolean): HTMLButtonElement {
  const button = el('button', 'icon-button');
  button.type = 'button';
  button.dataset.op = op;
  button.setAttribute('aria-label', label);
  button.title = label;
  // Busy, not disabled: a disabled button would drop the keyboard user's focus; #act ignores repeats.
  if (disabled) button.setAttribute('aria-disabled', 'true');
  button.innerHTML = icon;
  return button;
}

const tabKeyId = (key: string) => key.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);

/** Only http(s) links (relative ones resolve against the page): never javascript: or data:. */
function safeUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Action buttons as senders define them: `{ id, label, url?, disabled?, style? }`; malformed ones are skipped. */
function actionsOf(item: Item): Action[] {
  const actions: Action[] = [];
  for (const raw of item.actions) {
    const id = raw.id;
    if (typeof id !== 'string' && typeof id !== 'number') continue;
    const label = typeof raw.label === 'string' ? raw.label : typeof raw.title === 'string' ? raw.title : String(id);
    actions.push({ id: String(id), label, url: safeUrl(raw.url), disabled: raw.disabled === true, secondary: raw.style === 'secondary' || raw.primary === false });
  }
  return actions;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 31_536_000],
  ['month', 2_592_000],
  ['week', 604_800],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];
const formatters = new Map<string, Intl.RelativeTimeFormat>();

/** "5 minutes ago", "yesterday", "il y a 3 heures": Intl.RelativeTimeFormat in the user's locale. */
export function relativeTime(iso: string, locale: string, now = Date.now()): string {
  let format = formatters.get(locale);
  if (!format) {
    try {
      format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
    } catch {
      format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
    }
    formatters.set(locale, format);
  }
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  for (const [unit, size] of UNITS) if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  return format.format(0, 'second');
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Registers <herald-inbox> once (the React wrapper and the plain bundle may both load it). */
export function defineHeraldInbox(name = 'herald-inbox'): void {
  if (!customElements.get(name)) customElements.define(name, class extends HeraldInboxElement {});
}

declare global {
  interface HTMLElementTagNameMap {
    'herald-inbox': HeraldInboxElement;
  }
}
