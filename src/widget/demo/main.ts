import { HeraldError, HeraldWidgetClient, type InboxEvent, type WidgetCredentials } from './client.ts';
import { InboxModel, PAGE_SIZE } from './inbox.ts';
import { InboxView } from './view.ts';

/**
 * Herald's demo widget: /widget/demo?projectId=…&userId=…&userHash=…
 *
 * The credentials come from the query string because this is a demo. A real application
 * renders the widget for its signed-in user and computes userHash on its backend; the
 * project's widget secret never reaches the browser.
 */

const RESYNC_RETRY_MS = 3_000;

function credentialsFromQuery(query: URLSearchParams): WidgetCredentials | null {
  const projectId = query.get('projectId');
  const userId = query.get('userId');
  const userHash = query.get('userHash');
  return projectId && userId && userHash ? { projectId, userId, userHash } : null;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function start(): void {
  const credentials = credentialsFromQuery(new URLSearchParams(location.search));
  if (!credentials) {
    const idle = () => {};
    new InboxView(document, { markRead: idle, archive: idle, markAllRead: idle }).showError(
      "Open this page with ?projectId=…&userId=…&userHash=… (userHash: hex HMAC-SHA256 of userId keyed by the project's widget secret).",
    );
    return;
  }
  const client = new HeraldWidgetClient(location.origin, credentials);
  const model = new InboxModel();
  const view = new InboxView(document, {
    markRead: (id, button) => void act(button, () => client.markRead(id)),
    archive: (id, button) => void act(button, () => client.archive(id)),
    markAllRead: (button) => void act(button, () => client.markAllRead()),
  });

  async function act(button: HTMLButtonElement, action: () => Promise<unknown>): Promise<void> {
    button.disabled = true;
    try {
      await action();
      view.showError(null);
      // No local update: the change comes back as an inbox event, with the committed count.
    } catch (error) {
      view.showError(`That did not work: ${message(error)}`);
      button.disabled = false;
    }
  }

  const render = () => view.render(model.list(), model.unreadCount);
  /** Events that arrive while a snapshot loads wait here and are applied on top of it. */
  let held: InboxEvent[] | null = null;
  let resyncAgain = false;

  const apply = (event: InboxEvent) => {
    if (model.apply(event) === 'resync') void resync();
  };

  async function resync(): Promise<void> {
    if (held) {
      // The snapshot in flight may predate the change that asked for this one.
      resyncAgain = true;
      return;
    }
    held = [];
    let failed = false;
    try {
      const data = await client.snapshot(PAGE_SIZE);
      model.reset(data.inbox.edges.map((e) => e.node), data.unreadCount);
      view.showError(null);
      view.markSynced();
    } catch (error) {
      failed = true;
      view.showError(`Could not load the inbox: ${message(error)}`);
    } finally {
      const events: InboxEvent[] = held;
      held = null;
      events.forEach(apply);
      render();
    }
    if (failed) setTimeout(() => void resync(), RESYNC_RETRY_MS);
    else if (resyncAgain) {
      resyncAgain = false;
      void resync();
    }
  }

  // The cursor is read before the first snapshot and the subscription starts from it, so a
  // change committed between the snapshot's read and the subscription's start is replayed, not
  // missed (applying it again on top of the snapshot changes nothing).
  async function begin(): Promise<void> {
    try {
      model.lastCursor = await client.cursor();
    } catch (error) {
      if (error instanceof HeraldError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')) {
        view.setState('forbidden', `Herald refused these credentials: ${error.message}`);
        return;
      }
      view.showError(`Could not reach Herald: ${message(error)}`);
      setTimeout(() => void begin(), RESYNC_RETRY_MS);
      return;
    }
    goLive();
  }

  const goLive = () => client.live({
    since: () => model.lastCursor,
    onEvent(event) {
      if (held) held.push(event);
      else {
        apply(event);
        render();
      }
    },
    onEventError(error) {
      view.showError(`An inbox event failed: ${error}`);
      void resync();
    },
    onState: (state, detail) => view.setState(state, detail),
    onConnected(retry) {
      // A reconnect replays from the last cursor: only the first connection needs a snapshot.
      if (!retry || model.lastCursor === null) void resync();
    },
  });
  void begin();
}

start();
