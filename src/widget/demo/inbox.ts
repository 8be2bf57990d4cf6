import type { WidgetItemFragment } from '../../generated/gql/graphql.ts';
import type { InboxEvent } from './client.ts';

export type Item = WidgetItemFragment;

/** How many items the widget keeps and shows; older ones stay on the server. */
export const PAGE_SIZE = 50;

/**
 * One user's inbox as the widget shows it: a snapshot, then subscription events in cursor order.
 * An event re-reads its item when it is delivered and carries the unread count committed with
 * its change, so applying events that overlap the snapshot converges on the server's state
 * (each later change brings its own, newer event). An event that cannot be applied from its own
 * content (a deleted item, a partial "mark all read") asks for a new snapshot instead.
 */
export class InboxModel {
  private items = new Map<string, Item>();
  unreadCount = 0;
  /** The last cursor applied: the `since` of the next subscription. */
  lastCursor: string | null = null;

  reset(items: Item[], unreadCount: number): void {
    this.items = new Map(items.filter((i) => !i.archivedAt).map((i) => [i.id, i]));
    this.unreadCount = unreadCount;
  }

  apply(event: InboxEvent): 'applied' | 'duplicate' | 'resync' {
    if (this.lastCursor !== null && BigInt(event.cursor) <= BigInt(this.lastCursor)) return 'duplicate';
    this.lastCursor = event.cursor;
    this.unreadCount = event.unreadCount;
    const item = event.item;
    if (item) {
      // Whatever the event's type, the item as it is now decides: an archived one leaves the list.
      if (item.archivedAt) this.items.delete(item.id);
      else this.items.set(item.id, item);
      this.trim();
      return 'applied';
    }
    // Unread counts items neither read nor archived, so 0 means every listed item is read.
    if (event.type === 'ALL_READ' && event.unreadCount === 0) {
      for (const [id, listed] of this.items) if (!listed.readAt) this.items.set(id, { ...listed, readAt: event.at });
      return 'applied';
    }
    return 'resync';
  }

  /** Newest first: ids are time-ordered UUIDs, the order the server lists them in. */
  list(): Item[] {
    return [...this.items.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  private trim(): void {
    if (this.items.size <= PAGE_SIZE) return;
    for (const stale of this.list().slice(PAGE_SIZE)) this.items.delete(stale.id);
  }
}
