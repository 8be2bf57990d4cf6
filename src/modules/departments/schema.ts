import { builder } from '../../graphql/builder.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { Message } from '../messages/schema.ts';
import * as departments from './service.ts';
import type { NotifyError, NotifyResult, NotifyWarning } from './service.ts';

const auth = { operator: true } as const;

const DepartmentMemberRef = builder.prismaObject('DepartmentMember', {
  description: "A user's membership of a department.",
  fields: (t) => ({
    user: t.relation('user'),
    isDefault: t.exposeBoolean('isDefault', { description: 'The department\'s default member (myKaarma\'s "default" user).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const Department = builder.prismaObject('Department', {
  description: 'A group of users (myKaarma department) targeted by the department notify endpoint.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    members: t.relation('members', { query: { orderBy: { createdAt: 'asc' } } }),
    defaultMember: t.field({
      type: DepartmentMemberRef,
      nullable: true,
      resolve: async (d) => (await departments.departmentMembers(d.id)).find((m) => m.isDefault) ?? null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  department: t.field({
    type: Department,
    description: "One department; unknown (or another project's) → NOT_FOUND.",
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => departments.getDepartment(requireProjectId(ctx), String(args.id)),
  }),
  departments: t.field({
    type: [Department],
    description: 'The departments of the project, oldest first.',
    authScopes: auth,
    resolve: (_r, _args, ctx) => departments.listDepartments(requireProjectId(ctx)),
  }),
}));

const userIdsDescription = 'Herald user ids or externalIds.';

builder.mutationFields((t) => ({
  createDepartment: t.field({
    type: Department,
    authScopes: auth,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => departments.createDepartment(requireProjectId(ctx), args.name),
  }),
  updateDepartment: t.field({
    type: Department,
    authScopes: auth,
    args: { id: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => departments.updateDepartment(requireProjectId(ctx), String(args.id), { name: args.name }),
  }),
  deleteDepartment: t.id({
    description: 'Deletes the department and its memberships (not the users); answers its id.',
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => (await departments.deleteDepartment(requireProjectId(ctx), String(args.id))).id,
  }),
  addDepartmentMembers: t.field({
    type: Department,
    description: 'Adds users to the department (already members stay). With `default`, the one given user becomes the default member.',
    authScopes: auth,
    args: {
      departmentId: t.arg.id({ required: true }),
      userIds: t.arg.stringList({ required: true, description: userIdsDescription }),
      default: t.arg.boolean({ description: 'Make the (single) given user the default member.' }),
    },
    resolve: (_r, args, ctx) => departments.addDepartmentMembers(requireProjectId(ctx), String(args.departmentId), args.userIds, args.default ?? false),
  }),
  removeDepartmentMembers: t.field({
    type: Department,
    authScopes: auth,
    args: { departmentId: t.arg.id({ required: true }), userIds: t.arg.stringList({ required: true, description: userIdsDescription }) },
    resolve: (_r, args, ctx) => departments.removeDepartmentMembers(requireProjectId(ctx), String(args.departmentId), args.userIds),
  }),
}));

// ---------- notify ----------

const DraftAttributesInput = builder.inputType('DepartmentDraftAttributesInput', {
  fields: (t) => ({
    draftStatus: t.string({ description: 'Stored and returned as given; a note is never a draft, so it does not delay the note (myKaarma).' }),
    scheduledOn: t.string({ description: 'Stored and returned as given (any string).' }),
    draftFailureReason: t.string(),
  }),
});

const MessageAttributesInput = builder.inputType('DepartmentMessageAttributesInput', {
  fields: (t) => ({
    body: t.string({ description: 'Required (MISSING_MESSAGE_BODY otherwise).' }),
    subject: t.string(),
    type: t.string({ description: 'Accepted and ignored: the note is always of type NOTE (myKaarma forces it).' }),
    protocol: t.string({ description: 'Accepted and ignored: always NONE (myKaarma forces it); the note goes to the in-app inbox.' }),
    purpose: t.string({ description: "myKaarma MessagePurpose; stored as the message's category." }),
    isManual: t.boolean({ description: 'Accepted and ignored: always false (myKaarma forces it).' }),
    metaData: t.field({ type: 'JSONObject' }),
    tags: t.stringList(),
    attachments: t.field({ type: ['JSONObject'] }),
    draftAttributes: t.field({ type: DraftAttributesInput }),
    messageTags: t.field({ type: ['JSONObject'] }),
    defaultReplyAction: t.string(),
  }),
});

const NotificationButtonInput = builder.inputType('DepartmentNotificationButtonInput', {
  fields: (t) => ({
    buttonTextTranslationWidgetKey: t.string(),
    buttonTextTranslationKey: t.string({ description: "The in-app action's id." }),
    buttonDefaultText: t.string({ description: "The in-app action's label (default LEARN MORE)." }),
    buttonTheme: t.string({ description: 'PRIMARY, SECONDARY, TERTIARY or QUATERNARY.' }),
    buttonActionEventData: t.field({ type: 'JSONObject' }),
    isPrimaryButton: t.boolean(),
  }),
});

const NotificationAttributesInput = builder.inputType('DepartmentNotificationAttributesInput', {
  fields: (t) => ({
    internalSubscribersNotifierPop: t.boolean({ description: 'Accepted: the notifier is the in-app note, which is always sent.' }),
    externalSubscribersNotifierPop: t.boolean(),
    threadOwnerNotifierPop: t.boolean(),
    sendPhoneNotification: t.boolean({ description: "Also notify the user's phone: an SMS (Herald has no mobile push channel yet)." }),
    additionalNotifierNotificationDAUUIDs: t.stringList({ description: 'More users (ids or externalIds) who get the in-app notification.' }),
    notificationButtons: t.field({ type: [NotificationButtonInput] }),
    bodyTagsForSpecialRendering: t.field({ type: 'JSONObject', description: '{ CUSTOMER_NAMES }: replaces `_customer_names` in the body.' }),
  }),
});

const SendingAttributesInput = builder.inputType('DepartmentSendingAttributesInput', {
  fields: (t) => ({
    delay: t.int({ description: 'Seconds to wait before sending.' }),
    sendSynchronously: t.boolean({ description: 'Answer after the delivery outcome (at most ~10 s, then the current status).' }),
    callBackUrl: t.string({ description: 'http(s) URL that receives a signed POST on every terminal status (anything else: warning INVALID_CALLBACK_URL, no callback).' }),
    callBackMetadata: t.field({ type: 'JSONObject', description: 'Echoed to the callback as `metadata`.' }),
  }),
});

const NotifyInput = builder.inputType('DepartmentNotifyInput', {
  description: "myKaarma's notify-without-customer body.",
  fields: (t) => ({
    messageAttributes: t.field({ type: MessageAttributesInput, description: 'Required (MISSING_MESSAGE_ATTRIBUTES otherwise).' }),
    notificationAttributes: t.field({ type: NotificationAttributesInput }),
    messageSendingAttributesLite: t.field({ type: SendingAttributesInput }),
  }),
});

const NotifyErrorRef = builder.objectRef<NotifyError>('DepartmentNotifyError').implement({
  fields: (t) => ({
    errorCode: t.exposeString('errorCode'),
    errorDescription: t.exposeString('errorDescription'),
    errorUID: t.exposeString('errorUID', { nullable: true }),
  }),
});
const NotifyWarningRef = builder.objectRef<NotifyWarning>('DepartmentNotifyWarning').implement({
  fields: (t) => ({ warningCode: t.exposeString('warningCode'), warningDescription: t.exposeString('warningDescription') }),
});

const NotifyResultRef = builder.objectRef<NotifyResult>('DepartmentNotifyResult').implement({
  description:
    "myKaarma's notify answer. FAILURE carries one error: MISSING_MESSAGE_ATTRIBUTES, MISSING_MESSAGE_BODY, INVALID_REQUEST, DEPARTMENT_NOT_FOUND, USER_NOT_FOUND, or (synchronous sends) MESSAGE_SEND_FAILED. Warnings: INVALID_CALLBACK_URL, ADDITIONAL_USER_NOT_FOUND, CHANNEL_SKIPPED, DELIVERY_PENDING.",
  fields: (t) => ({
    notificationMessageUUID: t.exposeID('notificationMessageUUID', { nullable: true, description: "The target user's first message." }),
    status: t.exposeString('status'),
    requestUUID: t.exposeString('requestUUID'),
    errors: t.field({ type: [NotifyErrorRef], resolve: (r) => r.errors }),
    warnings: t.field({ type: [NotifyWarningRef], resolve: (r) => r.warnings }),
    messages: t.field({ type: [Message], resolve: (r) => r.messages }),
  }),
});

builder.mutationField('notifyDepartmentUser', (t) =>
  t.field({
    type: NotifyResultRef,
    description:
      'Raises an internal note for a member of the department (`userId` "default": its default member): always in-app, plus SMS with sendPhoneNotification; written and dispatched like every message.',
    authScopes: auth,
    args: {
      departmentId: t.arg.id({ required: true }),
      userId: t.arg.string({ required: true, description: 'Herald user id, externalId, or "default".' }),
      input: t.arg({ type: NotifyInput }),
    },
    resolve: (_r, args, ctx) =>
      departments.notifyDepartmentUser(requireProjectId(ctx), ctx.requestId, String(args.departmentId), args.userId, args.input ?? null, ctx.delivery),
  }),
);
