import { z } from 'zod';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, sqlPage } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { ItemError } from '../../graphql/types.ts';
import { readPreferences } from '../preferences/service.ts';
import { PreferencesRef } from '../preferences/types.ts';
import { countUsers, findUser, listUsers, MAX_UPSERT_BATCH, upsertUsers, type UpsertUserResult } from './service.ts';

type ChatAddresses = { slack?: string | null; msTeams?: string | null; discord?: string | null };
const ChatAddressesRef = builder.objectRef<ChatAddresses>('ChatAddresses').implement({
  description: "A user's own chat addresses; a channel without one uses its provider's project default.",
  fields: (t) => ({
    slack: t.string({ nullable: true, description: 'A Slack channel or user id (chat.postMessage with the bot token), a #channel name, or an Incoming Webhook URL.', resolve: (c) => c.slack ?? null }),
    msTeams: t.string({ nullable: true, description: 'A Teams Workflows or incoming webhook URL.', resolve: (c) => c.msTeams ?? null }),
    discord: t.string({ nullable: true, description: 'A Discord channel webhook URL.', resolve: (c) => c.discord ?? null }),
  }),
});

const User = builder.prismaObject('User', {
  description: 'A user (contact) of a project: who notifications are sent to.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "Herald's id (uuid)." }),
    externalId: t.exposeString('externalId', { description: "The client's own user id, unique per project." }),
    email: t.exposeString('email', { nullable: true }),
    telephone: t.exposeString('telephone', { nullable: true, description: 'E.164, e.g. +447911123456.' }),
    language: t.exposeString('language', { nullable: true }),
    timezone: t.exposeString('timezone', { nullable: true, description: 'IANA time zone.' }),
    firstName: t.exposeString('firstName', { nullable: true }),
    lastName: t.exposeString('lastName', { nullable: true }),
    photoURL: t.exposeString('photoURL', { nullable: true }),
    country: t.exposeString('country', { nullable: true, description: 'ISO 3166-1 alpha-2.' }),
    custom: t.field({ type: 'JSONObject', resolve: (user) => user.custom as Record<string, unknown> }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    preferences: t.field({ type: PreferencesRef, resolve: (user) => readPreferences(user.preferences) }),
    // Operators only: webhook URLs carry their tokens, and the widget's viewer should not read them.
    chat: t.field({ type: ChatAddressesRef, authScopes: { operator: true }, resolve: (user) => (user.chat ?? {}) as ChatAddresses }),
  }),
});

const ChatAddressesInput = builder.inputType('ChatAddressesInput', {
  description: 'Chat addresses; null (OVERWRITE mode) removes one.',
  fields: (t) => ({
    slack: t.string({ description: 'A Slack channel or user id (C0123ABCD, U0123ABCD), a #channel name, or an Incoming Webhook URL.' }),
    msTeams: t.string({ description: 'A Teams Workflows or incoming webhook URL.' }),
    discord: t.string({ description: 'A Discord channel webhook URL.' }),
  }),
});

const UserInput = builder.inputType('UserInput', {
  fields: (t) => ({
    externalId: t.string({ required: true }),
    email: t.string(),
    telephone: t.string({ description: 'International format; spaces and dashes are removed.' }),
    language: t.string(),
    timezone: t.string(),
    firstName: t.string(),
    lastName: t.string(),
    photoURL: t.string(),
    country: t.string(),
    custom: t.field({ type: 'JSONObject', description: 'Free-form fields, available to templates.' }),
    chat: t.field({ type: ChatAddressesInput, description: 'Where SLACK, MS_TEAMS and DISCORD messages go for this user.' }),
  }),
});

const UpsertMode = builder.enumType('UpsertMode', {
  values: {
    FILL_MISSING: { description: 'Set only fields that are still empty (Notifuse users.upsert).' },
    OVERWRITE: { description: 'Replace stored fields with the given ones.' },
  } as const,
});

const UpsertUserResultRef = builder.objectRef<UpsertUserResult>('UpsertUserResult').implement({
  description: 'The outcome for one item, in input order.',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    externalId: t.string({ nullable: true, resolve: (r) => r.externalId }),
    created: t.boolean({ resolve: (r) => r.ok && r.created }),
    user: t.field({ type: User, nullable: true, resolve: (r) => (r.ok ? r.user : null) }),
    error: t.field({ type: ItemError, nullable: true, resolve: (r) => (r.ok ? null : r.error) }),
  }),
});

builder.mutationField('upsertUsers', (t) =>
  t.field({
    type: [UpsertUserResultRef],
    description: `Creates or updates up to ${MAX_UPSERT_BATCH} users. Invalid items get their own error; the valid ones are written in one transaction.`,
    authScopes: { operator: true },
    args: {
      users: t.arg({
        type: [UserInput],
        required: true,
        validate: z.array(z.unknown()).min(1, 'give at least one user').max(MAX_UPSERT_BATCH, `at most ${MAX_UPSERT_BATCH} users per call`),
      }),
      mode: t.arg({ type: UpsertMode, defaultValue: 'FILL_MISSING', required: true }),
    },
    resolve: (_root, args, ctx) => upsertUsers(requireProjectId(ctx), args.users, args.mode),
  }),
);

builder.queryField('user', (t) =>
  t.field({
    type: User,
    description: 'One user, by Herald id or by externalId (exactly one). Unknown → NOT_FOUND.',
    authScopes: { operator: true },
    args: { id: t.arg.id(), externalId: t.arg.string() },
    resolve: (_root, args, ctx) =>
      findUser(requireProjectId(ctx), { id: args.id == null ? null : String(args.id), externalId: args.externalId }),
  }),
);

const UserFilter = builder.inputType('UserFilter', {
  fields: (t) => ({
    externalIds: t.stringList({ validate: z.array(z.string()).max(1000) }),
    email: t.string({ description: 'Exact email (case-insensitive).' }),
    country: t.string(),
    language: t.string(),
    search: t.string({ description: 'Substring of externalId, email, first or last name.' }),
  }),
});

builder.queryField('users', (t) =>
  t.prismaConnection({
    type: 'User',
    cursor: 'id',
    description: 'Users of the project, oldest first (ids are time-ordered), with cursor pagination.',
    authScopes: { operator: true },
    maxSize: 200,
    defaultSize: 50,
    args: { filter: t.arg({ type: UserFilter }) },
    validate: connectionArgs('uuid'),
    totalCount: (_connection, args, ctx) => countUsers(requireProjectId(ctx), args.filter),
    resolve: (query, _root, args, ctx) => listUsers(requireProjectId(ctx), args.filter, sqlPage(query, 'asc', 50)),
  }),
);
