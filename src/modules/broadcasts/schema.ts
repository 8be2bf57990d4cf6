import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import type { BroadcastProgressEvent } from '../../realtime/pubsub.ts';
import { isUuid } from '../users/service.ts';
import * as broadcasts from './service.ts';

const auth = { operator: true } as const;

const BroadcastStatus = builder.enumType('BroadcastStatus', {
  values: {
    QUEUED: { description: 'Accepted; the fan-out has not started.' },
    RUNNING: { description: 'Fanning out, chunk by chunk.' },
    COMPLETED: { description: 'Every recipient was handed to delivery (or counted skipped / failed).' },
    CANCELED: { description: 'Stopped by cancelBroadcast; recipients already processed keep their messages.' },
    FAILED: { description: 'Stopped: the notification became unavailable (deleted, deactivated, no version); see lastError.' },
  } as const,
});

export const Broadcast = builder.prismaObject('Broadcast', {
  description: 'One send to an audience (a topic, or every user matching a filter), fanned out in the background.',
  fields: (t) => ({
    id: t.exposeID('id'),
    transactionId: t.exposeString('transactionId', { description: 'The idempotency key: another send with it answers this broadcast.' }),
    topicKey: t.exposeString('topicKey', { nullable: true, description: 'The topic sent to; null for sendToAll.' }),
    filter: t.field({ type: 'JSONObject', nullable: true, description: "sendToAll's filter (null: every user).", resolve: (b) => (b.filter as Record<string, unknown> | null) ?? null }),
    notificationId: t.exposeString('notificationId', { description: "The notification's key or id, as given." }),
    data: t.field({ type: 'JSONObject', resolve: (b) => (b.data ?? {}) as Record<string, unknown> }),
    status: t.field({ type: BroadcastStatus, resolve: (b) => b.status }),
    total: t.exposeInt('total', { description: "The audience's size when the broadcast was accepted (raised to processed if it grew meanwhile)." }),
    processed: t.exposeInt('processed', { description: 'Recipients handled so far: delivered + skipped + failed.' }),
    delivered: t.exposeInt('delivered', { description: 'Recipients with at least one message handed to delivery.' }),
    skipped: t.exposeInt('skipped', { description: "Recipients whose every message is skipped: muted by the user's preferences, or no address on the channel." }),
    failed: t.exposeInt('failed', { description: 'Recipients the messages service refused (a template that does not render for them...).' }),
    lastError: t.exposeString('lastError', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const BroadcastUserFilter = builder.inputType('BroadcastUserFilter', {
  description: 'Which users sendToAll reaches: every given field must match (a list: any of its values). Empty: every user of the project.',
  fields: (t) => ({
    languages: t.stringList(),
    countries: t.stringList({ description: 'ISO 3166-1 alpha-2 codes.' }),
    timezones: t.stringList(),
    custom: t.field({ type: 'JSONObject', description: 'Custom profile fields that must equal these values (strings, numbers, booleans), e.g. {"plan":"pro"}.' }),
  }),
});

const sendArgs = (t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) => ({
  notificationId: t.arg.string({ required: true, description: "The notification's key or numeric id." }),
  data: t.arg({ type: 'JSONObject', description: 'Template data, the same for every recipient.' }),
  transactionId: t.arg.string({
    description: 'Your idempotency key (1-128 of A-Z a-z 0-9 _ . : -): the same key answers the same broadcast, and no user is sent it twice. Default: a new one.',
  }),
});

builder.queryField('broadcast', (t) =>
  t.field({
    type: Broadcast,
    description: "A broadcast's progress; unknown (or another project's) → NOT_FOUND.",
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => broadcasts.getBroadcast(requireProjectId(ctx), String(args.id)),
  }),
);

const BroadcastFilter = builder.inputType('BroadcastFilter', {
  description: 'Which broadcasts `broadcasts` lists: every given field must match.',
  fields: (t) => ({
    status: t.field({ type: [BroadcastStatus], description: 'Any of these statuses (at least one when given).' }),
    topicKey: t.string({ description: "Broadcasts sent to the topic with this key (kept after the topic is deleted); sendToAll's have none." }),
  }),
});

builder.queryField('broadcasts', (t) =>
  t.prismaConnection({
    type: 'Broadcast',
    cursor: 'id',
    description: "The project's broadcasts, newest first.",
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    args: { filter: t.arg({ type: BroadcastFilter }) },
    validate: connectionArgs('uuid'),
    totalCount: (_c, args, ctx) => broadcasts.countBroadcasts(requireProjectId(ctx), args.filter),
    resolve: (query, _r, args, ctx) => {
      const page = pageById(query, 'desc');
      return broadcasts.listBroadcasts(requireProjectId(ctx), args.filter, page.query, page.where);
    },
  }),
);

builder.mutationFields((t) => ({
  sendToTopic: t.field({
    type: Broadcast,
    description: "Sends a notification to every subscriber of the topic. Answers at once (status QUEUED); the fan-out runs in the background: follow it with broadcast(id) or the broadcast subscription.",
    authScopes: auth,
    args: { key: t.arg.string({ required: true, description: "The topic's key." }), ...sendArgs(t) },
    resolve: (_r, args, ctx) => broadcasts.createBroadcast(requireProjectId(ctx), { topic: args.key }, args, ctx.delivery),
  }),
  sendToAll: t.field({
    type: Broadcast,
    description: 'Sends a notification to every user of the project, or those matching the filter, on the same machinery as sendToTopic.',
    authScopes: auth,
    args: { filter: t.arg({ type: BroadcastUserFilter }), ...sendArgs(t) },
    resolve: (_r, args, ctx) => broadcasts.createBroadcast(requireProjectId(ctx), { all: true, filter: args.filter }, args, ctx.delivery),
  }),
  cancelBroadcast: t.field({
    type: Broadcast,
    description: 'Stops a queued or running broadcast (CONFLICT once it has finished). Messages already accepted are still delivered.',
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => broadcasts.cancelBroadcast(requireProjectId(ctx), String(args.id), ctx.pubsub),
  }),
}));

builder.subscriptionField('broadcast', (t) =>
  t.field({
    type: Broadcast,
    description: "The broadcast after each chunk of its fan-out and when it ends (the event carries its id; the broadcast is read again for your selection). Query broadcast(id) for its state before you subscribed.",
    authScopes: auth,
    args: { id: t.arg.id({ required: true, validate: z.string().refine(isUuid, 'must be a broadcast id (uuid)') }) },
    subscribe: async (_r, args, ctx) => {
      const projectId = requireProjectId(ctx);
      // Another project's broadcast is as unknown as a missing one, before anything is subscribed.
      const broadcast = await broadcasts.getBroadcast(projectId, String(args.id));
      return ctx.pubsub.subscribe('broadcastProgress', broadcast.id, { filter: (e: BroadcastProgressEvent) => e.projectId === projectId });
    },
    resolve: async (event: BroadcastProgressEvent) => prisma().broadcast.findUniqueOrThrow({ where: { id: event.broadcastId } }),
  }),
);
