import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { sendTransactional } from '../messages/transactional.ts';
import { acceptMessages, type AcceptContext, type MessageDraft } from '../../delivery/accept.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import { outboundPolicy } from '../../delivery/providers/outbound.ts';
import type { Channel, Department, DepartmentMember, Message, User } from '../../generated/prisma/client.ts';
import { badInput, issuesFrom, notFound } from '../../graphql/errors.ts';
import { SYNC_WAIT_MS, waitForFirstAttempt } from '../messages/service.ts';
import { isUuid, userByRef, usersByRef } from '../users/service.ts';

// ---------- departments and members ----------

const nameSchema = z.string({ error: 'is required' }).trim().min(1, 'is required').max(200);

function parseName(name: unknown): string {
  const result = nameSchema.safeParse(name);
  if (!result.success) throw badInput(issuesFrom(result.error.issues, ['name']));
  return result.data;
}

export async function createDepartment(projectId: string, name: unknown): Promise<Department> {
  return prisma().department.create({ data: { id: uuidv7(), projectId, name: parseName(name) } });
}

/** A department of the project; another project's (or a malformed id) is "not found". */
export async function findDepartment(projectId: string, id: string): Promise<Department | null> {
  return isUuid(id) ? prisma().department.findFirst({ where: { id, projectId } }) : null;
}

export async function getDepartment(projectId: string, id: string): Promise<Department> {
  const department = await findDepartment(projectId, id);
  if (!department) throw notFound('Department', id);
  return department;
}

export async function listDepartments(projectId: string): Promise<Department[]> {
  return prisma().department.findMany({ where: { projectId }, orderBy: { id: 'asc' }, take: 1_000 });
}

export async function updateDepartment(projectId: string, id: string, input: { name?: unknown }): Promise<Department> {
  const department = await getDepartment(projectId, id);
  return prisma().department.update({ where: { id: department.id }, data: { name: parseName(input.name) } });
}

export async function deleteDepartment(projectId: string, id: string): Promise<Department> {
  const department = await getDepartment(projectId, id);
  await prisma().department.delete({ where: { id: department.id } });
  return department;
}

async function resolveUsers(projectId: string, ids: string[]): Promise<User[]> {
  if (ids.length === 0) throw badInput([{ field: 'userIds', message: 'give at least one user' }]);
  if (ids.length > 500) throw badInput([{ field: 'userIds', message: 'at most 500 users per call' }]);
  const users = await usersByRef(projectId, ids);
  const issues = users.flatMap((u, i) => (u ? [] : [{ field: `userIds.${i}`, message: `no user ${JSON.stringify(ids[i])}` }]));
  if (issues.length) throw badInput(issues);
  return users as User[];
}

/**
 * Adds users (Herald ids or externalIds) to the department; members already there stay. With
 * `isDefault`, the (single) given user becomes the department's default member, replacing the
 * previous one.
 */
export async function addDepartmentMembers(projectId: string, departmentId: string, userIds: string[], isDefault = false): Promise<Department> {
  const department = await getDepartment(projectId, departmentId);
  const users = await resolveUsers(projectId, userIds);
  if (isDefault && new Set(users.map((u) => u.id)).size !== 1) {
    throw badInput([{ field: 'default', message: 'a department has one default member: give exactly one user with default' }]);
  }
  await prisma().$transaction(async (tx) => {
    // Serializes membership changes of one department (one default at a time).
    await tx.$queryRaw`SELECT id FROM "Department" WHERE id = ${department.id}::uuid FOR UPDATE`;
    if (isDefault) await tx.departmentMember.updateMany({ where: { departmentId: department.id, isDefault: true }, data: { isDefault: false } });
    await tx.departmentMember.createMany({ data: users.map((u) => ({ departmentId: department.id, userId: u.id })), skipDuplicates: true });
    if (isDefault) await tx.departmentMember.update({ where: { departmentId_userId: { departmentId: department.id, userId: users[0]!.id } }, data: { isDefault: true } });
  });
  return department;
}

export async function removeDepartmentMembers(projectId: string, departmentId: string, userIds: string[]): Promise<Department> {
  const department = await getDepartment(projectId, departmentId);
  const users = await resolveUsers(projectId, userIds);
  await prisma().departmentMember.deleteMany({ where: { departmentId: department.id, userId: { in: users.map((u) => u.id) } } });
  return department;
}

export async function departmentMembers(departmentId: string): Promise<(DepartmentMember & { user: User })[]> {
  return prisma().departmentMember.findMany({ where: { departmentId }, include: { user: true }, orderBy: { createdAt: 'asc' } });
}

// ---------- notify (myKaarma "notify without customer") ----------

/** myKaarma's "default" sentinel for userUUID: the department's default member. */
export const DEFAULT_USER = 'default';

const stringMap = z.record(z.string(), z.unknown());
const notifySchema = z.object({
  messageAttributes: z
    .object({
      body: z.string().nullish(),
      subject: z.string().max(1_000).nullish(),
      type: z.string().max(50).nullish(),
      protocol: z.string().max(50).nullish(),
      purpose: z.string().max(100).nullish(),
      isManual: z.boolean().nullish(),
      metaData: stringMap.nullish(),
      tags: z.array(z.string().max(100)).max(50).nullish(),
      attachments: z.array(stringMap).max(50).nullish(),
      draftAttributes: z
        .object({ draftStatus: z.string().max(50).nullish(), scheduledOn: z.string().max(100).nullish(), draftFailureReason: z.string().max(100).nullish() })
        .nullish(),
      messageTags: z.array(stringMap).max(100).nullish(),
      defaultReplyAction: z.string().max(1_000).nullish(),
    })
    .nullish(),
  notificationAttributes: z
    .object({
      internalSubscribersNotifierPop: z.boolean().nullish(),
      externalSubscribersNotifierPop: z.boolean().nullish(),
      threadOwnerNotifierPop: z.boolean().nullish(),
      sendPhoneNotification: z.boolean().nullish(),
      additionalNotifierNotificationDAUUIDs: z.array(z.string().max(256)).max(100).nullish(),
      notificationButtons: z
        .array(
          z.object({
            buttonTextTranslationWidgetKey: z.string().max(200).nullish(),
            buttonTextTranslationKey: z.string().max(200).nullish(),
            buttonDefaultText: z.string().max(200).nullish(),
            buttonTheme: z.string().max(50).nullish(),
            buttonActionEventData: stringMap.nullish(),
            isPrimaryButton: z.boolean().nullish(),
          }),
        )
        .max(10)
        .nullish(),
      bodyTagsForSpecialRendering: z.record(z.string(), z.string()).nullish(),
    })
    .nullish(),
  messageSendingAttributesLite: z
    .object({
      delay: z.number().int('must be a whole number of seconds').min(0, 'must be 0 or more seconds').max(31_536_000, 'must be at most a year').nullish(),
      sendSynchronously: z.boolean().nullish(),
      callBackUrl: z.string().max(2_048).nullish(),
      callBackMetadata: stringMap.nullish(),
    })
    .nullish(),
});
export type NotifyInput = z.input<typeof notifySchema>;
type Notify = z.output<typeof notifySchema>;

export interface NotifyError {
  errorCode: string;
  errorDescription: string;
  errorUID: string | null;
}
export interface NotifyWarning {
  warningCode: string;
  warningDescription: string;
}
export interface NotifyResult {
  notificationMessageUUID: string | null;
  status: 'SUCCESS' | 'FAILURE';
  requestUUID: string;
  errors: NotifyError[];
  warnings: NotifyWarning[];
  messages: Message[];
}

/** myKaarma's error codes of the notify endpoint (the legacy REST route maps them to statuses). */
export const NOTIFY_ERRORS = {
  MISSING_MESSAGE_ATTRIBUTES: 'MISSING_MESSAGE_ATTRIBUTES',
  MISSING_MESSAGE_BODY: 'MISSING_MESSAGE_BODY',
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** A warning: the note is sent without a callback. */
  INVALID_CALLBACK_URL: 'INVALID_CALLBACK_URL',
  DEPARTMENT_NOT_FOUND: 'DEPARTMENT_NOT_FOUND',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  MESSAGE_SEND_FAILED: 'MESSAGE_SEND_FAILED',
} as const;

/** The buttons of a myKaarma notification as Herald in-app actions. */
export function buttonActions(buttons: NonNullable<NonNullable<Notify['notificationAttributes']>['notificationButtons']>) {
  return buttons.map((b, i) => ({
    id: b.buttonTextTranslationKey ?? `button-${i}`,
    label: b.buttonDefaultText ?? 'LEARN MORE',
    theme: b.buttonTheme ?? 'PRIMARY',
    primary: b.isPrimaryButton ?? false,
    data: b.buttonActionEventData ?? {},
  }));
}

/**
 * Which channels a notify goes to. myKaarma's server forces `type: NOTE` and `protocol: NONE` on
 * this endpoint: the note always goes to the in-app inbox, whatever protocol the body gives, and
 * extra channels come only from the notification attributes. `sendPhoneNotification` is a push
 * to the user's phone: a MOBILE_PUSH to each of their devices, or an SMS when they have no
 * registered device (the README says so). The notifier flags pop the notifier, i.e. the in-app
 * note that is always there.
 */
export function notifyChannels(n: Notify, hasDevice = false): Channel[] {
  if (!n.notificationAttributes?.sendPhoneNotification) return ['IN_APP'];
  return ['IN_APP', hasDevice ? 'MOBILE_PUSH' : 'SMS'];
}

/**
 * The drafts of a notify for one user: the content comes straight from the request (there is
 * no notification template), one draft per channel; a channel the user cannot be reached on is
 * kept as a SKIPPED draft with the reason.
 */
export function notifyDrafts(n: Notify, user: User, channels: Channel[], extra: Partial<MessageDraft>): MessageDraft[] {
  const m = n.messageAttributes!;
  const body = (m.body ?? '').replace(/_customer_names/g, n.notificationAttributes?.bodyTagsForSpecialRendering?.CUSTOMER_NAMES ?? '_customer_names');
  // As myKaarma stores the note: its type, protocol and isManual are forced; the draft attributes are kept as given.
  const data = {
    type: 'NOTE',
    protocol: 'NONE',
    isManual: false,
    purpose: m.purpose ?? null,
    metaData: m.metaData ?? {},
    tags: m.tags ?? [],
    messageTags: m.messageTags ?? [],
    ...(m.draftAttributes ? { draftAttributes: m.draftAttributes } : {}),
  };
  const base = { userId: user.id, notificationId: null, versionId: null, data, ...extra };
  return channels.map((channel): MessageDraft => {
    switch (channel) {
      case 'SMS':
        return { ...base, channel, to: user.telephone, skipReason: user.telephone ? null : 'the user has no telephone number', content: { text: body } };
      default:
        return {
          ...base,
          channel,
          to: null,
          content: {
            title: m.subject ?? null,
            body,
            icon: null,
            image: null,
            redirection: null,
            actions: buttonActions(n.notificationAttributes?.notificationButtons ?? []),
            attachments: m.attachments ?? [],
            locale: null,
          },
        };
    }
  });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * myKaarma's notify: a note for one dealer user (a member of the department, or its default
 * member for "default"), written as messages in the transaction that accepts the request and
 * then dispatched. Problems the legacy API reports in its envelope come back as a FAILURE result.
 */
export async function notifyDepartmentUser(
  projectId: string,
  requestId: string,
  departmentId: string,
  userRef: string,
  input: unknown,
  delivery: Delivery,
): Promise<NotifyResult> {
  const failure = (errorCode: string, errorDescription: string): NotifyResult => ({
    notificationMessageUUID: null,
    status: 'FAILURE',
    requestUUID: requestId,
    errors: [{ errorCode, errorDescription, errorUID: null }],
    warnings: [],
    messages: [],
  });
  if (input == null) return failure(NOTIFY_ERRORS.MISSING_MESSAGE_ATTRIBUTES, 'Request body is missing');
  const parsed = notifySchema.safeParse(input);
  if (!parsed.success) {
    const issues = issuesFrom(parsed.error.issues);
    return failure(NOTIFY_ERRORS.INVALID_REQUEST, issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; '));
  }
  const n = parsed.data;
  if (!n.messageAttributes) return failure(NOTIFY_ERRORS.MISSING_MESSAGE_ATTRIBUTES, 'messageAttributes: Message Attributes are missing');
  if (!n.messageAttributes.body?.trim()) return failure(NOTIFY_ERRORS.MISSING_MESSAGE_BODY, 'messageAttributes.body: Message body is missing');
  const sending = n.messageSendingAttributesLite ?? {};
  const warnings: NotifyWarning[] = [];
  // myKaarma validates only the body: a callback it cannot call does not stop the note, it is reported.
  let callbackUrl = sending.callBackUrl || null;
  if (callbackUrl !== null && !isHttpUrl(callbackUrl)) {
    warnings.push({ warningCode: NOTIFY_ERRORS.INVALID_CALLBACK_URL, warningDescription: `messageSendingAttributesLite.callBackUrl: ${JSON.stringify(callbackUrl)} is not an http(s) URL; no callback will be made` });
    callbackUrl = null;
  }
  if (callbackUrl !== null) {
    // Herald POSTs the outcome there: a public address only (checked again when it POSTs). Unlike
    // a URL Herald cannot call at all (a warning above), an internal address is refused outright.
    const refused = await outboundPolicy().checkUrl(callbackUrl);
    if (refused) return failure(NOTIFY_ERRORS.INVALID_CALLBACK_URL, `messageSendingAttributesLite.callBackUrl: ${refused}`);
  }

  // Only the delay (seconds) postpones the note: a NOTE is never a draft, so draftAttributes
  // (a SCHEDULED draftStatus and its scheduledOn included) are stored as given and change nothing.
  const scheduledAt = sending.delay ? new Date(Date.now() + sending.delay * 1000) : null;

  const department = await findDepartment(projectId, departmentId);
  if (!department) return failure(NOTIFY_ERRORS.DEPARTMENT_NOT_FOUND, `Department ${JSON.stringify(departmentId)} not found`);
  let user: User | null = null;
  if (userRef.toLowerCase() === DEFAULT_USER) {
    const member = await prisma().departmentMember.findFirst({ where: { departmentId: department.id, isDefault: true }, include: { user: true } });
    if (!member) return failure(NOTIFY_ERRORS.USER_NOT_FOUND, `Department ${JSON.stringify(departmentId)} has no default user`);
    user = member.user;
  } else {
    const found = await userByRef(projectId, userRef);
    const member = found && (await prisma().departmentMember.findUnique({ where: { departmentId_userId: { departmentId: department.id, userId: found.id } } }));
    if (!member) return failure(NOTIFY_ERRORS.USER_NOT_FOUND, `User ${JSON.stringify(userRef)} not found in department ${JSON.stringify(departmentId)}`);
    user = found;
  }

  const extra: Partial<MessageDraft> = {
    scheduledAt,
    callbackUrl,
    callbackMetadata: sending.callBackMetadata ?? null,
    category: n.messageAttributes.purpose ?? null,
  };
  const hasDevice = Boolean(n.notificationAttributes?.sendPhoneNotification) && (await prisma().device.count({ where: { projectId, userId: user!.id } })) > 0;
  const drafts = notifyDrafts(n, user!, notifyChannels(n, hasDevice), extra);
  // Extra users to pop the notifier for: in-app only; unknown ones are a warning, not a failure.
  for (const ref of n.notificationAttributes?.additionalNotifierNotificationDAUUIDs ?? []) {
    const other = await userByRef(projectId, ref);
    if (!other) warnings.push({ warningCode: 'ADDITIONAL_USER_NOT_FOUND', warningDescription: `User ${JSON.stringify(ref)} not found` });
    else if (other.id !== user!.id) drafts.push(...notifyDrafts(n, other, ['IN_APP'], extra));
  }

  const ctx: AcceptContext = { projectId, requestId, source: 'department', maxAttempts: delivery.maxAttempts };
  const messages = await sendTransactional(delivery, ctx, () => prisma().$transaction((tx) => acceptMessages(tx, ctx, drafts)), (written) => written);
  for (const m of messages) {
    if (m.status === 'SKIPPED') warnings.push({ warningCode: 'CHANNEL_SKIPPED', warningDescription: `${m.channel}: ${m.lastError ?? 'skipped'}` });
  }
  // The primary message: the first one of the target user that is not skipped.
  const primary = messages.find((m) => m.userId === user!.id && m.status !== 'SKIPPED') ?? messages[0]!;
  const result: NotifyResult = { notificationMessageUUID: primary.id, status: 'SUCCESS', requestUUID: requestId, errors: [], warnings, messages };
  if (!sending.sendSynchronously) return result;

  // Synchronous: wait (bounded) for the outcome of the target user's messages that are due now.
  const watched = messages.filter((m) => m.userId === user!.id && m.status === 'QUEUED');
  const outcomes = await waitForFirstAttempt(watched.map((m) => m.id), SYNC_WAIT_MS);
  const fresh = await prisma().message.findMany({ where: { id: { in: messages.map((m) => m.id) } }, orderBy: { id: 'asc' } });
  result.messages = messages.map((m) => fresh.find((f) => f.id === m.id) ?? m);
  for (const m of watched) {
    const o = outcomes.get(m.id);
    // BOUNCED and READ: a delivery receipt came back within the wait.
    if (o?.status === 'FAILED' || o?.status === 'BOUNCED') {
      result.status = 'FAILURE';
      result.errors.push({ errorCode: NOTIFY_ERRORS.MESSAGE_SEND_FAILED, errorDescription: `${m.channel}: ${o.lastError ?? 'failed'}`, errorUID: m.id });
    } else if (o && o.status !== 'SENT' && o.status !== 'DELIVERED' && o.status !== 'READ') {
      warnings.push({ warningCode: 'DELIVERY_PENDING', warningDescription: `${m.channel}: still ${o.status} after ${SYNC_WAIT_MS / 1000} s` });
    }
  }
  return result;
}
