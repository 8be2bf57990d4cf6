import { v7 as uuidv7 } from 'uuid';
import { prisma, rawQuery } from '../db/client.ts';
import { Prisma, type Channel, type Message, type MessageStatus, type Notification, type PrismaClient, type User } from '../generated/prisma/client.ts';
import type { RenderedContent } from '../modules/notifications/render.ts';

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
  /** Set when the message cannot be delivered at all (e.g. the user has no email): it is recorded SKIPPED. */
  skipReason?: string | null;
}

export interface AcceptContext {
  projectId: string;
  requestId: string;
  source: 'graphql' | 'notifuse' | 'np6' | 'neucron' | 'department' | 'broadcast';
  maxAttempts: number;
}

/** Where the accept statements run: the caller's transaction, or the client for a statement alone. */
type Db = Prisma.TransactionClient | PrismaClient;

/**
 * Writes the messages and their first status event in the caller's transaction, so a request
 * is accepted exactly when its messages are durable. The caller dispatches after the commit.
 */
export async function acceptMessages(tx: Db, ctx: AcceptContext, drafts: MessageDraft[]): Promise<Message[]> {
  const now = new Date();
  const rows = drafts.map((d) => rowOf(ctx, d, now));
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
  const now = new Date();
  const rows = groups.map((drafts) => drafts.map((d) => rowOf(ctx, d, now)));
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
 * The insert of messages and their first events, as one statement over a JSON array: Prisma's
 * createManyAndReturn + createMany cost ~32 ms of CPU for 50 rows (the query compiler and
 * per-row result mapping), this ~2.5 ms. Only the inserted ids come back: the caller already
 * holds every column's value. skipDuplicates: a row whose client id is taken is skipped
 * instead of failing the statement. Answers the ids inserted.
 */
async function insertMessages(db: Db, ctx: AcceptContext, rows: Message[], now: Date, skipDuplicates: boolean): Promise<Set<string>> {
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
    })),
  );
  const sql = `
    WITH ins AS (
      INSERT INTO "Message" (id, "projectId", "requestId", source, "maxAttempts", "createdAt", "updatedAt", "externalId", "notificationId",
        "versionId", "userId", channel, status, "to", content, data, "executionId", "incrementId", critical, category, "scheduledAt",
        "callbackUrl", "callbackMetadata", "lastError")
      SELECT r.id, $1::uuid, $2::text, $3::text, $4::int, $5::timestamp(3), $5::timestamp(3), r."externalId", r."notificationId",
        r."versionId", r."userId", r.channel::"Channel", r.status::"MessageStatus", r."to", r.content, r.data, r."executionId", r."incrementId",
        r.critical, r.category, r."scheduledAt", r."callbackUrl", r."callbackMetadata", r."lastError"
      FROM jsonb_to_recordset($6::jsonb) AS r(i int, id uuid, "externalId" text, "notificationId" int, "versionId" uuid, "userId" uuid,
        channel text, status text, "to" text, content jsonb, data jsonb, "executionId" uuid, "incrementId" text, critical boolean,
        category text, "scheduledAt" timestamp(3), "callbackUrl" text, "callbackMetadata" jsonb, "lastError" text)
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
  const inserted = db === prisma() ? await rawQuery<{ id: string }>(sql, params) : await db.$queryRawUnsafe<{ id: string }[]>(sql, ...params);
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
export function draftsFor(notification: Pick<Notification, 'id' | 'settings'>, versionId: string, o: DraftOptions): MessageDraft[] {
  const r = o.render;
  // NP6 settings: urgent notifications are critical (they bypass preferences); the category
  // number is what users mute by.
  const settings = (notification.settings ?? {}) as { urgent?: boolean; category?: number | null };
  const base = {
    userId: o.user.id,
    notificationId: notification.id,
    versionId,
    data: o.data,
    critical: Boolean(settings.urgent),
    category: settings.category != null ? String(settings.category) : null,
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
    }
  });
}
