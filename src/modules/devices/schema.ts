import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import type { Context } from '../../graphql/context.ts';
import { forbidden, notFound } from '../../graphql/errors.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { registerDevice, registerUserDevice, unregisterDevice, unregisterMyDevice } from './service.ts';

const operator = { operator: true } as const;
const endUser = { endUser: true } as const;

const DevicePlatform = builder.enumType('DevicePlatform', { values: ['IOS', 'ANDROID', 'WEB'] as const });
const PushService = builder.enumType('PushService', {
  description: 'Which push service the token belongs to: APNs device tokens, or FCM registration tokens.',
  values: ['APNS', 'FCM'] as const,
});

builder.prismaObject('Device', {
  description: 'An app install of a user that receives MOBILE_PUSH (one message per device).',
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    platform: t.field({ type: DevicePlatform, resolve: (d) => d.platform }),
    service: t.field({ type: PushService, resolve: (d) => d.service }),
    token: t.exposeString('token', { description: 'The APNs device token or FCM registration token.' }),
    appId: t.exposeString('appId', { nullable: true, description: 'iOS bundle id (the apns-topic) or Android package / Firebase app id.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const DeviceInput = builder.inputType('DeviceInput', {
  fields: (t) => ({
    platform: t.field({ type: DevicePlatform, required: true }),
    token: t.string({ required: true, description: 'The APNs device token (hex) or FCM registration token the app got.' }),
    appId: t.string({ description: 'iOS: the bundle id, sent as apns-topic (default: the provider’s topic).' }),
    service: t.field({ type: PushService, description: 'Default: APNS for IOS, FCM for ANDROID and WEB (an iOS app using Firebase gives FCM).' }),
  }),
});

builder.prismaObjectField('User', 'devices', (t) =>
  t.relation('devices', { description: 'The devices that receive MOBILE_PUSH, oldest first.', query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } }),
);

/** The end user behind widget credentials; their user must exist (operators create users). */
function me(ctx: Context): { projectId: string; userId: string; externalId: string } {
  if (ctx.principal?.kind !== 'endUser') throw forbidden('This field is for end users (widget credentials)');
  if (!ctx.principal.userId) throw notFound('User', ctx.principal.externalId);
  return { projectId: ctx.principal.projectId, userId: ctx.principal.userId, externalId: ctx.principal.externalId };
}

builder.queryField('myDevices', (t) =>
  t.prismaField({
    type: ['Device'],
    description: "The calling end user's devices.",
    authScopes: endUser,
    resolve: (query, _r, _a, ctx) => {
      if (ctx.principal?.kind !== 'endUser' || !ctx.principal.userId) return [];
      return prisma().device.findMany({ ...query, where: { projectId: ctx.principal.projectId, userId: ctx.principal.userId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    },
  }),
);

builder.mutationFields((t) => ({
  registerDevice: t.prismaField({
    type: 'Device',
    description: 'Registers a device of a user (by Herald id or externalId). The token identifies it: registering it again updates it, and moves it to this user.',
    authScopes: operator,
    args: {
      userId: t.arg.id({ required: true, description: "Herald's id or the client's externalId." }),
      device: t.arg({ type: DeviceInput, required: true }),
    },
    resolve: (query, _r, args, ctx) => registerUserDevice(requireProjectId(ctx), String(args.userId), args.device, query),
  }),
  unregisterDevice: t.id({
    description: 'Removes a device by id.',
    authScopes: operator,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => unregisterDevice(requireProjectId(ctx), String(args.id)),
  }),
  registerMyDevice: t.prismaField({
    type: 'Device',
    description: "Registers the calling end user's device (widget credentials); the token identifies it.",
    authScopes: endUser,
    args: { device: t.arg({ type: DeviceInput, required: true }) },
    resolve: (query, _r, args, ctx) => {
      const user = me(ctx);
      return registerDevice(user.projectId, user.userId, args.device, query);
    },
  }),
  unregisterMyDevice: t.boolean({
    description: "Removes the calling end user's device with this token; false when they have none with it.",
    authScopes: endUser,
    args: { token: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => {
      if (ctx.principal?.kind !== 'endUser') throw forbidden('This field is for end users (widget credentials)');
      return unregisterMyDevice(ctx.principal.projectId, ctx.principal.userId, args.token);
    },
  }),
}));
