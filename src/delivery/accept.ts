import { uuidv7 } from '../db/ids.ts';
import { prisma, rawQuery } from '../db/client.ts';
import { Prisma, type Channel, type Message, type MessageStatus, type Notification, type PrismaClient, type User } from '../generated/prisma/client.ts';
import type { RenderedContent } from '../modules/notifications/render.ts';
import { traced } from '../telemetry/spans.ts';
import { chatAddressOf, chatContent } from '../modules/notifications/chat.ts';
import { suppressedAmong, suppressionKey } from '../modules/suppressions/service.ts';
import { expandDeviceGroups, expandDevices, expirationOf, type MobilePushContent } from './providers/mobile-push.ts';
import { groupRunDrafts, startRuns } from '../modules/workflows/service.ts';

/** A message about to be accepted: everything but the bookkeeping. */
export interface MessageDraft {
  channel: Channel;
  userId: string | null;
  notificationId: number | null;
  versionId: string | null;
  to: string | null;
  content: Record<string, unknown>;
  data: Record<string, unknown>;
  externalId?: string | null;
  incrementId?: string | null;
  critical?: boolean;
  category?: string | null;
  scheduledAt?: Date | null;
  callbackUrl?: string | null;
  callbackMetadata?: Record<string, unknown> | null;
  executionId?: string | null;
  /** The tenant the send named (its id). */
  tenantId?: string | null;
  /** Set when the message cannot be delivered at all (e.g. the user has no email): it is recorded SKIPPED. */
  skipReason?: string | null;
  /** The notification's workflow steps: the drafts start a workflow run instead (see startRuns). */
  workflow?: unknown;
}

export interface AcceptContext {
  projectId: string;
  requestId: string;
  source: 'graphql' | 'notifuse' | 'np6' | 'neucron' | 'department' | 'broadcast';
  maxAttempts: number;
  /** Filled by startRuns: the workflow runs this accept started, for wakeStartedRuns after the commit. */
  startedRuns?: string[];
}

/** Where the accept statements run: the caller's transaction, or the client for a statement alone. */
type Db = Prisma.TransactionClient | PrismaClient;

/**
 * Writes the messages and their first status event in the caller's transaction, so a request
 * is accepted exactly when its messages are durable. The caller dispatches after the commit.
 */
export async function acceptMessages(tx: Db, ctx: AcceptContext, drafts: MessageDraft[]): Promise<Message[]> {
  // Drafts of a notification with a workflow start runs (in this transaction) instead of messages.
  const flow = drafts.filter((d) => d.workflow != null);
  if (flow.length) {
    await startRuns(tx, ctx, groupRunDrafts(flow));
    drafts = drafts.filter((d) => d.workflow == null);
  }
  const now = new Date();
  // Suppressed addresses are SKIPPED first; then MOBILE_PUSH becomes one message per registered device of the user (mobile-push.ts).
  const rows = (await expandDevices(tx, ctx.projectId, (await skipSuppressed(tx, ctx.projectId, [drafts]))[0]!)).map((d) => rowOf(ctx, d, now));
  if (rows.length === 0) return [];
  await insertMessages(tx, ctx, rows, now, false);
  return rows;
}

/**
 * acceptMessages for several independent items (one group of drafts each): ONE statement for the
 * whole batch (messages and their events). An item stays atomic and does not drag the others
 * down: when a concurrent request took one of its client ids (the unique index decides; the
 * insert skips the row instead of failing the statement), its entry is null. A group that could
 * come out partial (several rows sharing a client id: one per channel) is written in a
 * transaction that removes its other rows again; a batch of one-row groups needs none, as one
 * statement commits whole or not at all. Other errors write nothing.
 */
export async function acceptMessageGroups(db: PrismaClient, ctx: AcceptContext, groups: MessageDraft[][]): Promise<(Message[] | null)[]> {
  // Items of a notification with a workflow start a run each (one statement for the batch); a
  // run whose client id is taken answers null, as a message would.
  const flowIndexes = groups.flatMap((g, i) => (g.some((d) => d.workflow != null) ? [i] : []));
  if (flowIndexes.length) {
    const runIds = await startRuns(db, ctx, flowIndexes.map((i) => groups[i]!));
    const plainIndexes = groups.flatMap((g, i) => (g.some((d) => d.workflow != null) ? [] : [i]));
    const plain = plainIndexes.length ? await acceptMessageGroups(db, ctx, plainIndexes.map((i) => groups[i]!)) : [];
    const result: (Message[] | null)[] = groups.map(() => []);
    flowIndexes.forEach((index, k) => (result[index] = runIds[k] ? [] : null));
    plainIndexes.forEach((index, k) => (result[index] = plain[k]!));
    return result;
  }
  const now = new Date();
  // Suppressed addresses are SKIPPED first; then MOBILE_PUSH becomes one message per registered device of
  // the user (mobile-push.ts), read outside the write (a device registered in between is one the next send reaches).
  const expanded = await expandDeviceGroups(db, ctx.projectId, await skipSuppressed(db, ctx.projectId, groups));
  const rows = expanded.map((drafts) => drafts.map((d) => rowOf(ctx, d, now)));
  const all = rows.flat();
  if (all.length === 0) return groups.map(() => []);
  const partialPossible = rows.some((group) => group.length > 1 && group.some((row) => row.externalId !== null));
  const write = async (tx: Db) => {
    const inserted = await insertMessages(tx, ctx, all, now, true);
    const orphans: string[] = [];
    const result = rows.map((group) => {
      const kept = group.filter((row) => inserted.has(row.id));
      if (kept.length === group.length) return kept;
      orphans.push(...kept.map((m) => m.id));
      return null;
    });
    // Their events go with them (ON DELETE CASCADE).
    if (orphans.length) await tx.$executeRaw`DELETE FROM "Message" WHERE id = ANY(${orphans}::uuid[])`;
    return result;
  };
  return partialPossible ? db.$transaction((tx) => write(tx)) : write(db);
}

/**
 * Drafts to a suppressed address (hard bounce, spam report, operator: src/modules/suppressions)
 * become SKIPPED with the reason. One statement for every draft of the batch.
 */
async function skipSuppressed(db: Db, projectId: string, groups: MessageDraft[][]): Promise<MessageDraft[][]> {
  const addressed = groups.flat().filter((d): d is MessageDraft & { to: string } => !d.skipReason && typeof d.to === 'string' && d.to !== '');
  const suppressed = await suppressedAmong(db, projectId, addressed.map((d) => ({ channel: d.channel, address: d.to })));
  if (suppressed.size === 0) return groups;
  return groups.map((drafts) =>
    drafts.map((d) => {
      const reason = !d.skipReason && d.to ? suppressed.get(suppressionKey(d.channel, d.to)) : undefined;
      return reason === undefined ? d : { ...d, skipReason: `the address is suppressed: ${reason}` };
    }),
  );
}

/**
 * The insert of messages and their first events, as one statement over a JSON array: Prisma's
 * createManyAndReturn + createMany cost ~32 ms of CPU for 50 rows (the query compiler and
 * per-row result mapping), this ~2.5 ms. Only the inserted ids come back: the caller already
 * holds every column's value. skipDuplicates: a row whose client id is taken is skipped
 * instead of failing the statement. Answers the ids inserted.
 */
function insertMessages(db: Db, ctx: AcceptContext, rows: Message[], now: Date, skipDuplicates: boolean): Promise<Set<string>> {
  // The span of the write that makes messages durable (the request's trace continues into the queue from here).
  return traced('herald.accept', { 'herald.source': ctx.source, 'herald.messages': rows.length }, () => writeMessages(db, ctx, rows, now, skipDuplicates));
}

async function writeMessages(db: Db, ctx: AcceptContext, rows: Message[], now: Date, skipDuplicates: boolean): Promise<Set<string>> {
  const json = JSON.stringify(
    rows.map((r, i) => ({
      i,
      id: r.id,
      externalId: r.externalId,
      notificationId: r.notificationId,
      versionId: r.versionId,
      userId: r.userId,
      channel: r.channel,
      status: r.status,
      to: r.to,
      content: r.content,
      data: r.data,
      executionId: r.executionId,
      incrementId: r.incrementId,
      critical: r.critical,
      category: r.category,
      scheduledAt: r.scheduledAt,
      callbackUrl: r.callbackUrl,
      callbackMetadata: r.callbackMetadata,
      lastError: r.lastError,
      tenantId: r.tenantId,
    })),
  );
  const sql = `
    WITH ins AS (
      INSERT INTO "Message" (id, "projectId", "requestId", source, "maxAttempts", "createdAt", "updatedAt", "externalId", "notificationId",
        "versionId", "userId", channel, status, "to", content, data, "executionId", "incrementId", critical, category, "scheduledAt",
        "callbackUrl", "callbackMetadata", "lastError", "tenantId")
      SELECT r.id, $1::uuid, $2::text, $3::text, $4::int, $5::timestamp(3), $5::timestamp(3), r."externalId", r."notificationId",
        r."versionId", r."userId", r.channel::"Channel", r.status::"MessageStatus", r."to", r.content, r.data, r."executionId", r."incrementId",
        r.critical, r.category, r."scheduledAt", r."callbackUrl", r."callbackMetadata", r."lastError", r."tenantId"
      FROM jsonb_to_recordset($6::jsonb) AS r(i int, id uuid, "externalId" text, "notificationId" int, "versionId" uuid, "userId" uuid,
        channel text, status text, "to" text, content jsonb, data jsonb, "executionId" uuid, "incrementId" text, critical boolean,
        category text, "scheduledAt" timestamp(3), "callbackUrl" text, "callbackMetadata" jsonb, "lastError" text, "tenantId" uuid)
      ORDER BY r.i
      ${skipDuplicates ? `ON CONFLICT ("projectId", "externalId", channel) DO NOTHING` : ''}
      RETURNING id, status, "lastError"
    ),
    events AS (
      INSERT INTO "MessageEvent" ("messageId", "projectId", status, error, at)
      SELECT id, $1::uuid, status, "lastError", $5::timestamp(3) FROM ins
    )
    SELECT id::text FROM ins`;
  // The date as UTC text: the column is a timestamp without zone holding UTC (see rawQuery).
  const params = [ctx.projectId, ctx.requestId, ctx.source, ctx.maxAttempts, now.toISOString(), json];
  // Alone (not in a caller's transaction): on the pool, without the ORM's per-call work.
  // Prepared there: two texts (with and without ON CONFLICT), run for every accepted batch.
  const inserted = db === prisma() ? await rawQuery<{ id: string }>(sql, params, { prepared: true }) : await db.$queryRawUnsafe<{ id: string }[]>(sql, ...params);
  return new Set(inserted.map((r) => r.id));
}

/** The row as the database will hold it: the statement only confirms which ones it inserted. */
function rowOf(ctx: AcceptContext, d: MessageDraft, now: Date): Message {
  const status: MessageStatus = d.skipReason ? 'SKIPPED' : d.scheduledAt && d.scheduledAt > now ? 'SCHEDULED' : 'QUEUED';
  return {
    id: uuidv7(),
    projectId: ctx.projectId,
    requestId: ctx.requestId,
    source: ctx.source,
    maxAttempts: ctx.maxAttempts,
    channel: d.channel,
    status,
    userId: d.userId,
    notificationId: d.notificationId,
    versionId: d.versionId,
    to: d.to,
    content: d.content as Prisma.JsonValue,
    data: d.data as Prisma.JsonValue,
    externalId: d.externalId ?? null,
    incrementId: d.incrementId ?? null,
    stackCount: 1,
    critical: d.critical ?? false,
    category: d.category ?? null,
    attempts: 0,
    scheduledAt: status === 'SCHEDULED' ? d.scheduledAt! : null,
    callbackUrl: d.callbackUrl ?? null,
    callbackMetadata: (d.callbackMetadata ?? null) as Prisma.JsonValue,
    executionId: d.executionId ?? null,
    lastError: d.skipReason ?? null,
    provider: null,
    providerMessageId: null,
    enqueuedAt: null,
    leaseUntil: null,
    sentAt: null,
    deliveredAt: null,
    tenantId: d.tenantId ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

export interface DraftOptions {
  channels: Channel[];
  user: User;
  render: RenderedContent;
  data: Record<string, unknown>;
  redirection?: string | null;
  /** Notifuse widgetSettingsOverride / emailSettingsOverride, merged into that channel's content. */
  widgetOverride?: Record<string, unknown> | null;
  emailOverride?: Record<string, unknown> | null;
  actions?: unknown[];
  webhookUrl?: string | null;
}

/**
 * One draft per channel of a notification for one user: the channel's address from the
 * profile and its content from the render. A channel the user cannot be reached on is kept as
 * a SKIPPED message with the reason, so nothing silently disappears.
 */
export function draftsFor(notification: Pick<Notification, 'id' | 'settings'> & { workflow?: unknown }, versionId: string, o: DraftOptions): MessageDraft[] {
  const r = o.render;
  // NP6 settings: urgent notifications are critical (they bypass preferences); the category
  // number is what users mute by.
  const settings = (notification.settings ?? {}) as { urgent?: boolean; category?: number | null; expiration?: unknown };
  const base = {
    userId: o.user.id,
    notificationId: notification.id,
    versionId,
    data: o.data,
    critical: Boolean(settings.urgent),
    category: settings.category != null ? String(settings.category) : null,
    // A notification with a workflow: these drafts are the run's content, not messages yet.
    ...(notification.workflow != null ? { workflow: notification.workflow } : {}),
  };
  return o.channels.map((channel): MessageDraft => {
    switch (channel) {
      case 'IN_APP':
        return {
          ...base,
          channel,
          to: null,
          content: { title: r.title, body: r.body, icon: r.icon, thumbnail: r.thumbnail, image: r.image, redirection: o.redirection ?? null, actions: o.actions ?? [], locale: r.locale, ...(o.widgetOverride ?? {}) },
        };
      case 'EMAIL':
        return {
          ...base,
          channel,
          to: o.user.email,
          skipReason: o.user.email ? null : 'the user has no email address',
          content: {
            subject: r.email?.subject ?? r.title ?? '',
            html: r.email?.html ?? null,
            text: r.email?.text ?? r.body ?? '',
            locale: r.locale,
            ...(o.emailOverride ?? {}),
          },
        };
      case 'SMS':
        return {
          ...base,
          channel,
          to: o.user.telephone,
          skipReason: o.user.telephone ? null : 'the user has no telephone number',
          content: { text: r.sms?.text ?? r.body ?? '', locale: r.locale },
        };
      case 'WHATSAPP':
        return {
          ...base,
          channel,
          to: o.user.telephone,
          skipReason: o.user.telephone ? null : 'the user has no telephone number',
          content: r.whatsapp?.templateName
            ? { template: { name: r.whatsapp.templateName, language: r.whatsapp.templateLanguage ?? r.locale, parameters: r.whatsapp.parameters } }
            : { text: r.whatsapp?.text ?? r.body ?? '' },
        };
      case 'WEB_PUSH':
        return {
          ...base,
          channel,
          to: null,
          content: { title: r.title, body: r.body, icon: r.icon, thumbnail: r.thumbnail, image: r.image, redirection: o.redirection ?? null },
        };
      case 'WEBHOOK':
        return { ...base, channel, to: o.webhookUrl ?? null, content: { ...r, redirection: o.redirection ?? null } };
      // Chat: the user's own address when set, else (to = null) the provider's project default.
      case 'SLACK':
        return { ...base, channel, to: chatAddressOf(o.user, 'slack'), content: { ...chatContent(r, o.redirection) } };
      case 'MS_TEAMS':
        return { ...base, channel, to: chatAddressOf(o.user, 'msTeams'), content: { ...chatContent(r, o.redirection) } };
      case 'DISCORD':
        return { ...base, channel, to: chatAddressOf(o.user, 'discord'), content: { ...chatContent(r, o.redirection) } };
      case 'MOBILE_PUSH': {
        // The push part wins field by field; title, body and image default to the locale's.
        // to stays null: acceptMessages makes one message per device of the user.
        const content: MobilePushContent = {
          title: r.push?.title ?? r.title,
          body: r.push?.body ?? r.body,
          image: r.push?.image ?? r.image,
          sound: r.push?.sound ?? null,
          redirection: o.redirection ?? null,
          locale: r.locale,
          expiresAt: expirationOf(settings.expiration, new Date())?.toISOString() ?? null,
        };
        return { ...base, channel, to: null, content: content as unknown as Record<string, unknown> };
      }
    }
  });
}
