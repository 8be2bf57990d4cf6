import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { rawQuery } from '../../db/client.ts';
import { draftsFor, type MessageDraft } from '../../delivery/accept.ts';
import { itemFields } from '../../delivery/providers/in-app.ts';
import type { Channel, Message, User, WorkflowRun } from '../../generated/prisma/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { lockInbox, publishInboxEvents, recordInboxEvents, type InboxEventMessage } from '../inbox/events.ts';
import { lookupForSend } from '../notifications/send-lookup.ts';
import { renderVersion } from '../notifications/render.ts';
import { mutedReason } from '../preferences/service.ts';
import type { WorkflowStep } from './model.ts';
import type { StoredDraft } from './service.ts';
import { transaction, userFromJson, type Tx } from './sql.ts';

/**
 * A digest's live in-app item: shown from the digest's first event and updated with each event
 * that joins, then finalised (not written again) by the workflow's IN_APP step when the digest
 * closes. Only where showing it early tells the truth: the IN_APP step must follow the DIGEST
 * through CHANNEL steps only, none of them (nor it) with a condition. A DELAY, THROTTLE, another
 * DIGEST or a condition in between could hold the in-app message back or skip it, and an item
 * shown early would then be a promise the workflow may not keep.
 */
export function liveInAppStep(steps: readonly WorkflowStep[], digestIndex: number): number | null {
  for (let i = digestIndex + 1; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.kind !== 'CHANNEL' || (step.condition !== undefined && step.condition !== null)) return null;
    if (step.channel === 'IN_APP') return i;
  }
  return null;
}

export interface DigestView {
  count: number;
  events: unknown[];
  key: string;
}

/**
 * A channel's draft of the run re-rendered with `digest` (count, events, key) in scope: the
 * trigger's bookkeeping (urgency, category, callbacks, execution) stays, the content is the
 * digest's. Null when it cannot be (no version or user; a render error, logged: the caller
 * keeps the trigger-time content). Also answers the notification's key (what preferences mute by).
 */
export async function renderDigestDraft(
  run: Pick<WorkflowRun, 'id' | 'projectId' | 'notificationId' | 'data'>,
  user: User | null,
  channel: Channel,
  stored: StoredDraft,
  digest: DigestView,
  logger: Logger,
): Promise<{ draft: MessageDraft; notificationKey: string | null } | null> {
  const found = await lookupForSend(run.projectId, run.notificationId);
  if (!found?.version || !user) return null;
  const data = { ...((run.data as Record<string, unknown>) ?? {}), digest: { count: digest.count, events: digest.events, key: digest.key } };
  try {
    const render = await renderVersion({ notification: found.notification, version: found.version, user, data });
    const redirection = (found.version.redirection as { value?: unknown } | null)?.value;
    const [fresh] = draftsFor({ id: found.notification.id, settings: found.notification.settings }, found.version.id, {
      channels: [channel],
      user,
      render,
      data,
      redirection: typeof redirection === 'string' ? redirection : null,
    });
    if (!fresh) return null;
    return { draft: { ...stored, channel, content: fresh.content, data, to: fresh.to, skipReason: fresh.skipReason ?? stored.skipReason ?? null }, notificationKey: found.notification.key };
  } catch (error) {
    logger.warn({ err: error, runId: run.id }, 'Digest render failed; the trigger-time content is used');
    return null;
  }
}

/** Why the user would not get this in-app draft now (their or their tenant's preferences), or null. */
export async function liveMuted(user: User, draft: MessageDraft, notificationKey: string | null, tenantPreferences?: unknown): Promise<string | null> {
  if (tenantPreferences === undefined && draft.tenantId) {
    const [tenant] = await rawQuery<{ preferences: unknown }>(`SELECT preferences FROM "Tenant" WHERE id = $1::uuid`, [draft.tenantId]);
    tenantPreferences = tenant?.preferences;
  }
  return mutedReason(
    { userId: user.id, channel: 'IN_APP', critical: draft.critical ?? false, category: draft.category ?? null, notificationId: draft.notificationId },
    { preferences: user.preferences, notificationKey, tenantPreferences: tenantPreferences ?? null },
  );
}

const ITEM_SET = `title = $3, body = $4, icon = $5, thumbnail = $6, image = $7, redirection = $8, actions = $9::jsonb, data = $10::jsonb, category = $11`;
function itemParams(draft: Pick<MessageDraft, 'content' | 'data' | 'category'>): unknown[] {
  const f = itemFields({ content: draft.content as Message['content'], data: draft.data as Message['data'], category: draft.category ?? null });
  return [f.title, f.body, f.icon, f.thumbnail, f.image, f.redirection, JSON.stringify(f.actions), JSON.stringify(f.data), f.category];
}

/**
 * Shows the digest's current count and events in its live item: creates the item at the first
 * call (whoever makes it: the opener, or after a crash of the opener the next joiner), updates
 * it in place after (an `UPDATED` inbox event; the item stays one, so the unread count moves
 * by at most one). Called after a join's commit, never under the digest's row lock except for
 * the moment that links a new item to it. An update only moves forward (the item's stackCount
 * holds the count it shows), so concurrent or late refreshes cannot show an older count, and
 * none touches an item the close has finalised (messageId set). A refresh lost in a crash is
 * made good by the next one or by the close, which renders the final content itself.
 */
export async function refreshLiveItem(deps: { pubsub: HeraldPubSub; logger: Logger }, digestId: string): Promise<void> {
  const [row] = await rawQuery<{
    count: number;
    events: unknown[];
    key: string;
    stepIndex: number;
    inboxItemId: string | null;
    run: Pick<WorkflowRun, 'id' | 'projectId' | 'notificationId' | 'userId' | 'data' | 'drafts' | 'steps'>;
    user: unknown;
  }>(
    `SELECT d.count, d.events, d.key, d."stepIndex", d."inboxItemId"::text AS "inboxItemId",
       jsonb_build_object('id', r.id, 'projectId', r."projectId", 'notificationId', r."notificationId", 'userId', r."userId", 'data', r.data, 'drafts', r.drafts, 'steps', r.steps) AS run,
       to_jsonb(u) AS "user"
     FROM "WorkflowDigest" d JOIN "WorkflowRun" r ON r.id = d."runId" JOIN "User" u ON u.id = d."userId"
     WHERE d.id = $1::uuid AND d."openKey" IS NOT NULL`,
    [digestId],
  );
  // Closed (the IN_APP step writes the final content), or its opener's run is gone.
  if (!row) return;
  const { run } = row;
  // The opener's copy of the workflow decides: its run is the one that goes on at the close.
  const stored = (run.drafts as Record<string, StoredDraft>).IN_APP;
  const user = userFromJson(row.user);
  if (!stored || !user || liveInAppStep(run.steps as unknown as WorkflowStep[], row.stepIndex) === null) return;
  const rendered = await renderDigestDraft(run, user, 'IN_APP', stored, { count: row.count, events: row.events, key: row.key }, deps.logger);
  if (!rendered || rendered.draft.skipReason) return;
  if (await liveMuted(user, rendered.draft, rendered.notificationKey)) return;
  const { draft } = rendered;
  const events = await transaction(async (tx): Promise<InboxEventMessage[]> => {
    await lockInbox(tx.prismaTx, run.projectId, run.userId);
    let itemId = row.inboxItemId;
    if (!itemId) {
      const id = uuidv7();
      // Links the item in the digest row first: of concurrent creators one wins, and a digest
      // that closed in the meantime gets none (its IN_APP step writes the item as usual).
      const [linked] = await tx.query(`UPDATE "WorkflowDigest" SET "inboxItemId" = $2::uuid WHERE id = $1::uuid AND "inboxItemId" IS NULL AND "openKey" IS NOT NULL RETURNING id`, digestId, id);
      if (linked) {
        const now = new Date().toISOString();
        await tx.execute(
          `INSERT INTO "InboxItem" (id, "projectId", "userId", "notificationId", "incrementId", "tenantId", title, body, icon, thumbnail, image, redirection, actions, data, category, "stackCount", "createdAt", "updatedAt")
           VALUES ($1::uuid, $2::uuid, $12::uuid, $13, $14, $15::uuid, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $16, $17::timestamp(3), $17::timestamp(3))`,
          id,
          run.projectId,
          ...itemParams(draft),
          run.userId,
          run.notificationId,
          draft.incrementId ?? null,
          draft.tenantId ?? null,
          row.count,
          now,
        );
        return recordInboxEvents(tx.prismaTx, run.projectId, run.userId, [{ type: 'CREATED', itemId: id }]);
      }
      const [current] = await tx.query<{ inboxItemId: string | null }>(`SELECT "inboxItemId"::text AS "inboxItemId" FROM "WorkflowDigest" WHERE id = $1::uuid`, digestId);
      itemId = current?.inboxItemId ?? null;
      if (!itemId) return [];
    }
    // New events make the item unread again, as a stacked item is.
    const updated = await tx.execute(
      `UPDATE "InboxItem" SET ${ITEM_SET}, "stackCount" = $12, "readAt" = NULL, "seenAt" = NULL, "updatedAt" = $13::timestamp(3)
       WHERE id = $1::uuid AND "projectId" = $2::uuid AND "messageId" IS NULL AND "stackCount" < $12`,
      itemId,
      run.projectId,
      ...itemParams(draft),
      row.count,
      new Date().toISOString(),
    );
    return updated ? recordInboxEvents(tx.prismaTx, run.projectId, run.userId, [{ type: 'UPDATED', itemId }]) : [];
  });
  publishInboxEvents(deps.pubsub, events);
}

/**
 * At the close, in the IN_APP step's transaction (after its message is written): the live item
 * becomes the message's item, with the final content and count (`UPDATED`); the delivery then
 * finds the item of its message and creates none. A message that will not be delivered in-app
 * (skipped, or the channel muted meanwhile) archives the live item instead, so no item stays
 * that the in-app channel did not deliver. Answers the events to publish after the commit;
 * none when the item is gone (the delivery then writes one as for any message).
 */
export async function finaliseLiveItem(tx: Tx, message: Message, itemId: string, count: number, deliverable: boolean): Promise<InboxEventMessage[]> {
  const userId = message.userId!;
  await lockInbox(tx.prismaTx, message.projectId, userId);
  const now = new Date().toISOString();
  if (!deliverable) {
    const archived = await tx.execute(
      `UPDATE "InboxItem" SET "archivedAt" = $3::timestamp(3), "updatedAt" = $3::timestamp(3) WHERE id = $1::uuid AND "projectId" = $2::uuid AND "messageId" IS NULL AND "archivedAt" IS NULL`,
      itemId,
      message.projectId,
      now,
    );
    return archived ? recordInboxEvents(tx.prismaTx, message.projectId, userId, [{ type: 'ARCHIVED', itemId }]) : [];
  }
  // Unread again only if the final count is more than the item showed (a refresh may have shown it already).
  const linked = await tx.execute(
    `UPDATE "InboxItem" SET ${ITEM_SET}, "messageId" = $12::uuid, "stackCount" = $13,
       "readAt" = CASE WHEN "stackCount" < $13 THEN NULL ELSE "readAt" END, "seenAt" = CASE WHEN "stackCount" < $13 THEN NULL ELSE "seenAt" END, "updatedAt" = $14::timestamp(3)
     WHERE id = $1::uuid AND "projectId" = $2::uuid AND "messageId" IS NULL`,
    itemId,
    message.projectId,
    ...itemParams({ content: message.content as Record<string, unknown>, data: message.data as Record<string, unknown>, category: message.category }),
    message.id,
    count,
    now,
  );
  return linked ? recordInboxEvents(tx.prismaTx, message.projectId, userId, [{ type: 'UPDATED', itemId }]) : [];
}

/**
 * Refreshes of one digest in this process, coalesced: while one runs, the joins that arrive
 * ask for one more after it (which reads the count they made), not one each.
 */
export class LiveRefresher {
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(private readonly deps: { pubsub: HeraldPubSub; logger: Logger }) {}

  refresh(digestId: string): Promise<void> {
    const current = this.running.get(digestId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: true, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        while (entry.again) {
          entry.again = false;
          await refreshLiveItem(this.deps, digestId).catch((error: unknown) =>
            this.deps.logger.warn({ err: error, digestId }, "Could not refresh a digest's live in-app item; the next join or the close will"),
          );
        }
      } finally {
        this.running.delete(digestId);
      }
    })();
    this.running.set(digestId, entry);
    return entry.done;
  }
}
