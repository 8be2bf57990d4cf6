import type { InboxEvent, InboxFilter, Item } from './client.ts';

/** One tab of the feed: a filter and the items loaded for it, newest first. */
export interface Tab {
  key: string;
  label: string;
  /** null: every category. */
  category: string | null;
  archived: boolean;
}

export interface TabState {
  items: Map<string, Item>;
  /** Relay cursor of the oldest loaded item: the next page starts after it. */
  endCursor: string | null;
  hasMore: boolean;
  /** The first page came in (the tab may still be empty). */
  loaded: boolean;
  loading: boolean;
  /** The last page load failed with this message (a retry clears it). */
  error: string | null;
}

export const filterOf = (tab: Tab): InboxFilter => ({ archived: tab.archived, ...(tab.category === null ? {} : { category: tab.category }) });

const matches = (tab: Tab, item: Item) => Boolean(item.archivedAt) === tab.archived && (tab.category === null || item.category === tab.category);

/**
 * One user's inbox as the component shows it: pages per tab, then subscription events in
 * cursor order. An event carries its item as it is now and the unread count committed with
 * its change, so applying events that overlap a page converges on the server's state; events
 * at or below the last applied cursor are dropped (a replay after a reconnect). An event that
 * cannot be applied from its own content (a deleted item, a partial "mark all read") asks the
 * caller to reload the tabs instead.
 */
export class InboxModel {
  readonly tabs: Tab[];
  readonly state = new Map<string, TabState>();
  /** null until the first page says it. */
  unreadCount: number | null = null;
  /** The last cursor applied: the `since` of the next subscription. */
  lastCursor: string | null = null;

  constructor(tabs: Tab[]) {
    this.tabs = tabs;
    this.clear();
  }

  clear(): void {
    for (const tab of this.tabs) this.state.set(tab.key, { items: new Map(), endCursor: null, hasMore: true, loaded: false, loading: false, error: null });
  }

  tab(key: string): Tab {
    return this.tabs.find((t) => t.key === key) ?? this.tabs[0]!;
  }

  of(key: string): TabState {
    return this.state.get(key)!;
  }

  /** A page for a tab; `first`: it replaces what the tab had (a resync), else it is appended. */
  addPage(key: string, items: Item[], page: { hasNextPage: boolean; endCursor?: string | null }, unreadCount: number, first: boolean): void {
    const state = this.of(key);
    if (first) state.items = new Map();
    const tab = this.tab(key);
    for (const item of items) if (matches(tab, item)) state.items.set(item.id, item);
    state.endCursor = page.endCursor ?? state.endCursor;
    state.hasMore = page.hasNextPage;
    state.loaded = true;
    state.error = null;
    this.unreadCount = unreadCount;
  }

  apply(event: InboxEvent): 'applied' | 'duplicate' | 'resync' {
    if (this.lastCursor !== null && BigInt(event.cursor) <= BigInt(this.lastCursor)) return 'duplicate';
    this.lastCursor = event.cursor;
    this.unreadCount = event.unreadCount;
    const item = event.item;
    if (item) {
      // Whatever the event's type, the item as it is now decides which tabs list it.
      for (const tab of this.tabs) {
        const state = this.of(tab.key);
        if (!state.loaded) continue;
        if (matches(tab, item)) state.items.set(item.id, item);
        else state.items.delete(item.id);
      }
      return 'applied';
    }
    // Deleted (from another tab or device): gone from every tab.
    if (event.type === 'DELETED' && event.itemId) {
      for (const state of this.state.values()) state.items.delete(event.itemId);
      return 'applied';
    }
    // Unread counts items neither read nor archived, so 0 means every listed item is read.
    if (event.type === 'ALL_READ' && event.unreadCount === 0) {
      for (const state of this.state.values()) for (const [id, listed] of state.items) if (!listed.readAt) state.items.set(id, { ...listed, readAt: event.at });
      return 'applied';
    }
    return 'resync';
  }

  /** Newest first: ids are time-ordered UUIDs, the order the server lists them in. */
  list(key: string): Item[] {
    return [...this.of(key).items.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }
}

/**
 * `categories="billing:Billing, social:Social"` → tabs All, Billing, Social, Archived. A
 * category without a label is shown as its value.
 */
export function parseTabs(categories: string | null): Tab[] {
  const tabs: Tab[] = [{ key: 'all', label: 'All', category: null, archived: false }];
  for (const part of (categories ?? '').split(',')) {
    const [value = '', ...rest] = part.split(':');
    const category = value.trim();
    if (!category || tabs.some((t) => t.category === category)) continue;
    tabs.push({ key: `c:${category}`, label: rest.join(':').trim() || category, category, archived: false });
  }
  tabs.push({ key: 'archived', label: 'Archived', category: null, archived: true });
  return tabs;
}
