import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { JobQueue } from '../../delivery/queue.ts';
import { Prisma, type Broadcast } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound } from '../../graphql/errors.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { sendMessages, type SendItem, type SendResult } from '../messages/service.ts';
import { lookupForSend } from '../notifications/send-lookup.ts';
import { getTopic, topicKeySchema } from '../topics/service.ts';
import { isUuid } from '../users/service.ts';

/** The fan-out's own queue: a broadcast's wake-ups never wait behind (nor delay) transactional deliveries. */
export const BROADCAST_QUEUE = 'broadcasts';
/** BullMQ priority of a broadcast's delivery jobs: jobs without one (transactional sends) are always taken first. */
export const BROADCAST_DELIVERY_PRIORITY = 100;

const sendSchema = z.object({
  notificationId: z.union([z.string().trim().min(1, 'is required').max(128), z.number().int()], { error: 'is required' }),
  data: z.record(z.string(), z.unknown()).nullish(),
  transactionId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 letters, digits, "_", ".", ":" or "-"')
    .nullish(),
});
export type BroadcastSend = z.input<typeof sendSchema>;

const values = z.array(z.string().trim().min(1).max(64)).min(1, 'give at least one value').max(100, 'at most 100 values');
/** sendToAll's filter on profile fields: every given field must match (lists: any of their values). */
export const userFilterSchema = z
  .strictObject({
    languages: values.nullish(),
    countries: values.nullish(),
    timezones: values.nullish(),
    custom: z
      .record(z.string().min(1).max(128), z.union([z.string().max(256), z.number(), z.boolean()], { error: 'must be a string, number or boolean' }))
      .refine((v) => Object.keys(v).length <= 20, 'at most 20 fields')
      .nullish(),
  })
  .nullish();
export type UserFilter = z.output<typeof userFilterSchema>;

/** The users a sendToAll filter selects, as a Prisma where (the fan-out adds its cursor). */
export function userFilterWhere(projectId: string, filter: UserFilter): Prisma.UserWhereInput {
  return {
    projectId,
    ...(filter?.languages ? { language: { in: filter.languages } } : {}),
    ...(filter?.countries ? { country: { in: filter.countries.map((c) => c.toUpperCase()) } } : {}),
    ...(filter?.timezones ? { timezone: { in: filter.timezones } } : {}),
    ...(filter?.custom ? { AND: Object.entries(filter.custom).map(([key, value]) => ({ custom: { path: [key], equals: value } })) } : {}),
  };
}

/** Who a broadcast goes to. */
export type Audience = { topic: string } | { all: true; filter?: unknown };

/** JSON with sorted keys: jsonb does not keep the client's key order, and a retry must compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined && (value as Record<string, unknown>)[k] !== null)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * sendToTopic / sendToAll: validates, records the broadcast (QUEUED, cursor at the start) and
 * wakes the fan-out; answers at once, whatever the audience's size. The transactionId is the
 * idempotency key: a second call with it answers the same broadcast (CONFLICT if it names
 * another audience, notification or data), and the fan-out gives every message the client id
 * "<transactionId>:<user id>", so no user gets the same broadcast twice.
 */
export async function createBroadcast(projectId: string, audience: Audience, input: BroadcastSend, delivery: Delivery): Promise<Broadcast> {
  const parsed = sendSchema.safeParse(input);
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues));
  const { notificationId, data } = parsed.data;
  let filter: UserFilter = null;
  let topic: { id: string; key: string } | null = null;
  if ('topic' in audience) topic = await getTopic(projectId, audience.topic);
  else {
    const f = userFilterSchema.safeParse(audience.filter);
    if (!f.success) throw badInput(issuesFrom(f.error.issues, ['filter']));
    filter = f.data ?? null;
  }
  const found = await lookupForSend(projectId, notificationId);
  if (!found) throw notFound('Notification', notificationId);
  if (!found.notification.active) throw badInput([{ field: 'notificationId', message: 'the notification is inactive' }]);
  if (!found.version) throw badInput([{ field: 'notificationId', message: 'the notification has no master version' }]);

  const transactionId = parsed.data.transactionId ?? uuidv7();
  const wanted = { topicKey: topic?.key ?? null, filter: filter ?? null, notificationId: String(notificationId), data: data ?? {} };
  const same = (b: Broadcast) =>
    b.topicKey === wanted.topicKey && canonical(b.filter) === canonical(wanted.filter) && b.notificationId === wanted.notificationId && canonical(b.data) === canonical(wanted.data);
  const existing = async () => {
    const b = await prisma().broadcast.findUnique({ where: { projectId_transactionId: { projectId, transactionId } } });
    if (b && !same(b)) throw conflict(`transactionId ${JSON.stringify(transactionId)} was used by broadcast ${b.id} for another audience, notification or data`);
    return b;
  };
  const before = await existing();
  if (before) return before;

  const total = topic ? await prisma().topicSubscriber.count({ where: { topicId: topic.id } }) : await prisma().user.count({ where: userFilterWhere(projectId, filter) });
  let broadcast: Broadcast;
  try {
    broadcast = await prisma().broadcast.create({
      data: {
        id: uuidv7(),
        projectId,
        transactionId,
        topicId: topic?.id ?? null,
        topicKey: topic?.key ?? null,
        filter: filter ?? Prisma.DbNull,
        notificationId: wanted.notificationId,
        data: wanted.data as Prisma.InputJsonObject,
        total,
      },
    });
  } catch (error) {
    // A concurrent call with the same transactionId won: answer its broadcast.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      const winner = await existing();
      if (winner) return winner;
    }
    throw error;
  }
  await wakeBroadcasts(delivery.jobs, [broadcast.id]);
  return broadcast;
}

/**
 * Queues wake-ups for broadcasts. Jobs are wake-ups only: the row (status, lease, cursor) is
 * the truth, and a failed add is left to the fan-out's reconciler, which finds QUEUED and
 * RUNNING broadcasts nobody holds.
 */
export async function wakeBroadcasts(queue: JobQueue, ids: string[], suffix = ''): Promise<void> {
  await queue
    .add<{ broadcastId: string }>(
      BROADCAST_QUEUE,
      ids.map((id) => ({ id: `${id}${suffix}`, data: { broadcastId: id } })),
      { attempts: 5, backoffMs: 1_000 },
    )
    .catch(() => {});
}

export async function getBroadcast(projectId: string, id: string): Promise<Broadcast> {
  const broadcast = isUuid(id) ? await prisma().broadcast.findFirst({ where: { id: id.toLowerCase(), projectId } }) : null;
  if (!broadcast) throw notFound('Broadcast', id);
  return broadcast;
}

export const BROADCAST_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'CANCELED', 'FAILED'] as const;

const listFilterSchema = z
  .strictObject({
    status: z.array(z.enum(BROADCAST_STATUSES)).min(1, 'give at least one status, or leave status out').nullish(),
    topicKey: topicKeySchema.nullish(),
  })
  .nullish();
export type BroadcastListFilter = z.input<typeof listFilterSchema>;

/**
 * The project's broadcasts a `broadcasts(filter)` list selects, as a Prisma where. topicKey is
 * matched on the key the broadcast recorded, so a deleted topic's broadcasts are still listed.
 */
export function broadcastWhere(projectId: string, filter: unknown): Prisma.BroadcastWhereInput {
  const parsed = listFilterSchema.safeParse(filter);
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['filter']));
  const f = parsed.data;
  return {
    projectId,
    ...(f?.status ? { status: { in: f.status } } : {}),
    ...(f?.topicKey != null ? { topicKey: f.topicKey } : {}),
  };
}

/**
 * One page of the project's broadcasts, newest first (ids are uuid v7, so id order is creation
 * order): `query` is the connection's (take, selection), `after` its cursor as an id comparison
 * (pageById).
 */
export function listBroadcasts(
  projectId: string,
  filter: unknown,
  query: Pick<Prisma.BroadcastFindManyArgs, 'take' | 'select' | 'include'>,
  after: Prisma.BroadcastWhereInput,
): Promise<Broadcast[]> {
  return prisma().broadcast.findMany({ ...query, where: { AND: [broadcastWhere(projectId, filter), after] }, orderBy: { id: 'desc' } });
}

export function countBroadcasts(projectId: string, filter: unknown): Promise<number> {
  return prisma().broadcast.count({ where: broadcastWhere(projectId, filter) });
}

/**
 * Stops a broadcast that is still queued or fanning out: the fan-out checks the status with
 * every chunk's cursor advance, so at most the chunk in hand is still accepted. Messages
 * already accepted are delivered (cancel them one by one with cancelMessage if needed).
 */
export async function cancelBroadcast(projectId: string, id: string, pubsub: HeraldPubSub): Promise<Broadcast> {
  const broadcast = await getBroadcast(projectId, id);
  const now = new Date();
  const [canceled] = await prisma().broadcast.updateManyAndReturn({
    where: { id: broadcast.id, projectId, status: { in: ['QUEUED', 'RUNNING'] } },
    data: { status: 'CANCELED', finishedAt: now, leaseToken: null, leaseUntil: null },
  });
  if (!canceled) throw conflict(`Broadcast ${broadcast.id} is ${(await getBroadcast(projectId, id)).status}: only queued or running broadcasts can be canceled`);
  pubsub.publish('broadcastProgress', canceled.id, { broadcastId: canceled.id, projectId, status: canceled.status, processed: canceled.processed, at: now.toISOString() });
  return canceled;
}

/** A sendMessages item as GraphQL gives it: one user, or an audience (`to`). */
export interface MixedSendItem extends Omit<SendItem, 'userId'> {
  userId?: string | null;
  to?: { topic: string } | null;
}

/**
 * sendMessages with items sent `to` a topic: each such item becomes a broadcast (its `id` the
 * transactionId) and answers with its broadcastId; the other items go through sendMessages
 * together, as they would alone. Results keep the input order; one item's failure is its own
 * error in the Notifuse wording ("topic/not-found", "notification/not-found", "id/exists"...).
 */
export async function sendWithAudiences(
  projectId: string,
  requestId: string,
  items: MixedSendItem[],
  delivery: Delivery,
): Promise<(SendResult & { broadcastId?: string | null })[]> {
  const results: (SendResult & { broadcastId?: string | null })[] = new Array(items.length);
  const plain: number[] = [];
  const fail = (index: number, error: string) => {
    results[index] = { ok: false, id: items[index]?.id ?? null, error, messages: [], emailError: null, smsError: null, broadcastId: null };
  };
  await Promise.all(
    items.map(async (item, index) => {
      if (item.to == null) return plain.push(index);
      if (item.userId != null) return fail(index, 'invalid/to: give userId or to, not both');
      try {
        const b = await createBroadcast(projectId, { topic: item.to.topic }, { notificationId: item.notificationId, data: item.data, transactionId: item.id }, delivery);
        results[index] = { ok: true, id: b.transactionId, error: null, messages: [], emailError: null, smsError: null, broadcastId: b.id };
      } catch (error) {
        const code = (error as { extensions?: { code?: string; resource?: string } }).extensions;
        if (code?.code === 'NOT_FOUND') fail(index, `${code.resource === 'Topic' ? 'topic' : 'notification'}/not-found`);
        else if (code?.code === 'CONFLICT') fail(index, 'id/exists');
        else if (code?.code === 'BAD_USER_INPUT') fail(index, `invalid/${(error as Error).message}`);
        else throw error;
      }
    }),
  );
  plain.sort((a, b) => a - b);
  if (plain.length) {
    const sent = await sendMessages(projectId, requestId, plain.map((i) => items[i] as SendItem), delivery, { maxAttempts: delivery.maxAttempts });
    for (const [i, index] of plain.entries()) results[index] = sent[i]!;
  }
  return results;
}
