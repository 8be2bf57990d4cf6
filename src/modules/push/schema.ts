import { builder } from '../../graphql/builder.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { deletePushSubscription, registerPushSubscription } from './service.ts';

const auth = { operator: true } as const;

builder.prismaObject('PushSubscription', {
  name: 'PushSubscriptionInfo',
  description: "A browser's Web Push subscription of a user. Its keys are write-only.",
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    user: t.relation('user'),
    endpoint: t.exposeString('endpoint'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PushSubscriptionKeysInput = builder.inputType('PushSubscriptionKeysInput', {
  fields: (t) => ({
    p256dh: t.string({ required: true, description: "The browser's P-256 public key, base64url." }),
    auth: t.string({ required: true, description: 'The 16-byte auth secret, base64url.' }),
  }),
});

const PushSubscriptionInput = builder.inputType('PushSubscriptionInput', {
  description: "What the browser's PushSubscription.toJSON() gives.",
  fields: (t) => ({
    endpoint: t.string({ required: true, description: "The push service's https URL." }),
    keys: t.field({ type: PushSubscriptionKeysInput, required: true }),
  }),
});

builder.mutationFields((t) => ({
  registerPushSubscription: t.prismaField({
    type: 'PushSubscription',
    description: "Stores a browser's push subscription for a user (by Herald id or externalId); the endpoint identifies it, so registering again updates it.",
    authScopes: auth,
    args: {
      userId: t.arg.id({ required: true, description: "Herald's id or the client's externalId." }),
      subscription: t.arg({ type: PushSubscriptionInput, required: true }),
    },
    resolve: (query, _r, args, ctx) => registerPushSubscription(requireProjectId(ctx), String(args.userId), args.subscription, query),
  }),
  deleteUserPushSubscription: t.boolean({
    description: 'Removes the subscription with this endpoint; false when there was none.',
    authScopes: auth,
    args: { endpoint: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => deletePushSubscription(requireProjectId(ctx), args.endpoint),
  }),
}));
