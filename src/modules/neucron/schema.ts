import { builder } from '../../graphql/builder.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { Message } from '../messages/schema.ts';
import { MAX_RECIPIENTS, sendNotification, sendWhatsApp, sendWhatsAppTemplate, type NeucronResult } from './service.ts';

const auth = { operator: true } as const;

const NeucronResultRef = builder.objectRef<NeucronResult>('NeucronSendResult').implement({
  description: "Neucron's answer data: `{ message, ids }` (the ids of the messages written).",
  fields: (t) => ({
    message: t.exposeString('message'),
    ids: t.exposeIDList('ids'),
    messages: t.field({ type: [Message], resolve: (r) => r.messages }),
  }),
});

const recipients = 'Herald user ids or externalIds.';

const NotificationInput = builder.inputType('NeucronNotificationInput', {
  description: 'Neucron `notifmodel.UserNotifReq` (inferred: the schema is not published).',
  fields: (t) => ({
    userIds: t.stringList({ description: `${recipients} X-Neucron-User-ID (the userId argument) is added.` }),
    title: t.string(),
    body: t.string({ description: 'Required without a notificationId (body or title).' }),
    data: t.field({ type: 'JSONObject' }),
    notificationId: t.string({ description: "A notification (key or id) whose master version is sent; title and body then override its content. Without one: an in-app message." }),
  }),
});

const WhatsAppInput = builder.inputType('NeucronWhatsAppInput', {
  description: 'Neucron `notifmodel.WhatsAppMessage`, text form (inferred).',
  fields: (t) => ({
    to: t.stringList({ description: 'E.164 phone numbers.' }),
    userIds: t.stringList({ description: `${recipients} Sent to their telephone.` }),
    text: t.string({ description: 'Required.' }),
  }),
});

const WhatsAppTemplateInput = builder.inputType('NeucronWhatsAppTemplateInput', {
  description: 'Neucron `notifmodel.WhatsAppMessage`, template form (inferred).',
  fields: (t) => ({
    to: t.stringList({ description: 'E.164 phone numbers.' }),
    userIds: t.stringList({ description: `${recipients} Sent to their telephone.` }),
    template: t.string({ required: true, description: 'The approved WhatsApp template name.' }),
    language: t.string({ description: 'Template language code (default "en").' }),
    parameters: t.stringList({ description: 'Body parameters {{1}}, {{2}}... in order.' }),
    components: t.field({ type: ['JSONObject'], description: 'Raw WhatsApp Cloud API template components (header, buttons...), sent as given. A body component and parameters exclude each other.' }),
  }),
});

builder.mutationFields((t) => ({
  neucronSendNotification: t.field({
    type: NeucronResultRef,
    description: `Neucron /notif/send: a notification to up to ${MAX_RECIPIENTS} users.`,
    authScopes: auth,
    args: {
      userId: t.arg.string({ description: 'X-Neucron-User-ID: the user the notification is for (added to userIds).' }),
      input: t.arg({ type: NotificationInput, required: true }),
    },
    resolve: (_r, args, ctx) => sendNotification(requireProjectId(ctx), ctx.requestId, args.userId ?? null, args.input, ctx.delivery),
  }),
  neucronSendWhatsApp: t.field({
    type: NeucronResultRef,
    description: 'Neucron /notif/whatsappSend: a WhatsApp text to numbers and/or users.',
    authScopes: auth,
    args: { input: t.arg({ type: WhatsAppInput, required: true }) },
    resolve: (_r, args, ctx) => sendWhatsApp(requireProjectId(ctx), ctx.requestId, args.input, ctx.delivery),
  }),
  neucronSendWhatsAppTemplate: t.field({
    type: NeucronResultRef,
    description: 'Neucron /notif/whatsappSendTemplate: a WhatsApp template message to numbers and/or users.',
    authScopes: auth,
    args: { input: t.arg({ type: WhatsAppTemplateInput, required: true }) },
    resolve: (_r, args, ctx) => sendWhatsAppTemplate(requireProjectId(ctx), ctx.requestId, args.input, ctx.delivery),
  }),
}));
