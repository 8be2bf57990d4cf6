import { v7 as uuidv7 } from 'uuid';
import type { Channel, Message, MessageStatus, Notification, Prisma, User } from '../generated/prisma/client.ts';
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
  source: 'graphql' | 'notifuse' | 'np6' | 'neucron' | 'department';
  maxAttempts: number;
}

/**
 * Writes the messages and their first status event in the caller's transaction, so a request
 * is accepted exactly when its messages are durable. The caller dispatches after the commit.
 */
export async function acceptMessages(tx: Prisma.TransactionClient, ctx: AcceptContext, drafts: MessageDraft[]): Promise<Message[]> {
  const now = new Date();
  const rows = drafts.map((d) => rowOf(ctx, d, now));
  if (rows.length === 0) return [];
  const created = await tx.message.createManyAndReturn({ data: rows });
  await recordAccepted(tx, created, now);
  return created;
}

/**
 * acceptMessages for several independent items (one group of drafts each) in one transaction:
 * two statements for the whole batch instead of a transaction per item. An item stays atomic
 * and does not drag the others down: when a concurrent request took one of its client ids
 * (the unique index decides; the insert skips the row instead of aborting the transaction),
 * its other rows are removed again and its entry is null. Other errors abort the whole batch.
 */
export async function acceptMessageGroups(tx: Prisma.TransactionClient, ctx: AcceptContext, groups: MessageDraft[][]): Promise<(Message[] | null)[]> {
  const now = new Date();
  const rows = groups.map((drafts) => drafts.map((d) => rowOf(ctx, d, now)));
  const all = rows.flat();
  if (all.length === 0) return groups.map(() => []);
  const created = new Map((await tx.message.createManyAndReturn({ data: all, skipDuplicates: true })).map((m) => [m.id, m]));
  const orphans: string[] = [];
  const result = rows.map((group) => {
    const kept = group.flatMap((row) => created.get(row.id) ?? []);
    if (kept.length === group.length) return kept;
    orphans.push(...kept.map((m) => m.id));
    return null;
  });
  if (orphans.length) {
    await tx.message.deleteMany({ where: { id: { in: orphans } } });
    for (const id of orphans) created.delete(id);
  }
  await recordAccepted(tx, [...created.values()], now);
  return result;
}

function rowOf(ctx: AcceptContext, d: MessageDraft, now: Date) {
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
    content: d.content as Prisma.InputJsonValue,
    data: d.data as Prisma.InputJsonValue,
    externalId: d.externalId ?? null,
    incrementId: d.incrementId ?? null,
    critical: d.critical ?? false,
    category: d.category ?? null,
    scheduledAt: status === 'SCHEDULED' ? d.scheduledAt! : null,
    callbackUrl: d.callbackUrl ?? null,
    callbackMetadata: (d.callbackMetadata ?? undefined) as Prisma.InputJsonValue | undefined,
    executionId: d.executionId ?? null,
    lastError: d.skipReason ?? null,
    createdAt: now,
  };
}

async function recordAccepted(tx: Prisma.TransactionClient, created: Message[], now: Date): Promise<void> {
  if (created.length === 0) return;
  await tx.messageEvent.createMany({
    data: created.map((m) => ({ messageId: m.id, projectId: m.projectId, status: m.status, error: m.lastError, at: now })),
  });
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
