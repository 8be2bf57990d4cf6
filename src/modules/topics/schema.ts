import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import type { Topic as TopicRow } from '../../generated/prisma/client.ts';
import * as topics from './service.ts';

const auth = { operator: true } as const;

export const Topic = builder.prismaObject('Topic', {
  description: 'An audience of users (followers, a newsletter...): sendToTopic fans a notification out to its subscribers.',
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key', { description: 'Your name for the topic, unique per project.' }),
    name: t.exposeString('name'),
    subscriberCount: t.int({ resolve: (topic) => topics.subscriberCount(topic.id) }),
    subscribers: t.prismaConnection({
      type: 'User',
      cursor: 'id',
      description: 'The subscribed users, in Herald id order (oldest users first).',
      maxSize: 1_000,
      defaultSize: 100,
      validate: connectionArgs('uuid'),
      totalCount: (topic) => topics.subscriberCount(topic.id),
      resolve: (query, topic) => {
        const page = pageById(query, 'asc');
        return prisma().user.findMany({
          ...page.query,
          where: { AND: [{ projectId: topic.projectId, topics: { some: { topicId: topic.id } } }, page.where] },
          orderBy: { id: 'asc' },
        });
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField('User', 'topics', (t) =>
  t.prismaConnection({
    type: 'Topic',
    cursor: 'id',
    description: 'The topics this user is subscribed to, oldest first.',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    validate: connectionArgs('uuid'),
    resolve: (query, user) => {
      const page = pageById(query, 'asc');
      return prisma().topic.findMany({ ...page.query, where: { AND: [{ projectId: user.projectId, subscribers: { some: { userId: user.id } } }, page.where] }, orderBy: { id: 'asc' } });
    },
  }),
);

builder.queryFields((t) => ({
  topic: t.field({
    type: Topic,
    description: "The topic with this key; unknown (or another project's) → NOT_FOUND.",
    authScopes: auth,
    args: { key: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => topics.getTopic(requireProjectId(ctx), args.key),
  }),
  topics: t.prismaConnection({
    type: 'Topic',
    cursor: 'id',
    description: 'The topics of the project, oldest first.',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    validate: connectionArgs('uuid'),
    totalCount: (_c, _args, ctx) => prisma().topic.count({ where: { projectId: requireProjectId(ctx) } }),
    resolve: (query, _r, _args, ctx) => {
      const page = pageById(query, 'asc');
      return prisma().topic.findMany({ ...page.query, where: { AND: [{ projectId: requireProjectId(ctx) }, page.where] }, orderBy: { id: 'asc' } });
    },
  }),
}));

interface SubscribersChange {
  topic: TopicRow;
  count: number;
}

const SubscribersChangeRef = builder.objectRef<SubscribersChange>('TopicSubscribersChange').implement({
  fields: (t) => ({
    topic: t.field({ type: Topic, resolve: (r) => r.topic }),
    count: t.exposeInt('count', { description: 'Subscriptions added (already subscribed users are not counted) or removed.' }),
  }),
});

const userIdsDescription = `The users' externalIds (the userId of a send), at most ${topics.MAX_SUBSCRIBERS_PER_CALL} per call.`;

builder.mutationFields((t) => ({
  createTopic: t.field({
    type: Topic,
    description: 'Creates a topic; a key already in use → CONFLICT.',
    authScopes: auth,
    args: { key: t.arg.string({ required: true }), name: t.arg.string({ description: 'Defaults to the key.' }) },
    resolve: (_r, args, ctx) => topics.createTopic(requireProjectId(ctx), args),
  }),
  deleteTopic: t.id({
    description: "Deletes the topic and its subscriptions (not the users); answers the topic's id.",
    authScopes: auth,
    args: { key: t.arg.string({ required: true }) },
    resolve: async (_r, args, ctx) => (await topics.deleteTopic(requireProjectId(ctx), args.key)).id,
  }),
  addTopicSubscribers: t.field({
    type: SubscribersChangeRef,
    description:
      'Subscribes users to the topic in one statement; already subscribed ones stay (idempotent). Every id must be a user of the project: one unknown id refuses the call (BAD_USER_INPUT) and nothing is written.',
    authScopes: auth,
    args: { key: t.arg.string({ required: true }), userIds: t.arg.stringList({ required: true, description: userIdsDescription }) },
    resolve: async (_r, args, ctx) => {
      const { topic, added } = await topics.addTopicSubscribers(requireProjectId(ctx), args.key, args.userIds);
      return { topic, count: added };
    },
  }),
  removeTopicSubscribers: t.field({
    type: SubscribersChangeRef,
    description: 'Unsubscribes users from the topic in one statement; ids that are not subscribed are ignored.',
    authScopes: auth,
    args: { key: t.arg.string({ required: true }), userIds: t.arg.stringList({ required: true, description: userIdsDescription }) },
    resolve: async (_r, args, ctx) => {
      const { topic, removed } = await topics.removeTopicSubscribers(requireProjectId(ctx), args.key, args.userIds);
      return { topic, count: removed };
    },
  }),
}));
