import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, objectBody, RestInputError, type RestRoute } from '../../rest/route.ts';

/**
 * Notifuse's frontend (widget) API on the same inbox and preferences. Credentials: projectId,
 * userId and userHmac in the query (GET) or the body (POST); userHmac is Herald's userHash.
 */

const FrontUsersGet = graphql(`
  query FrontUsersGet {
    viewer {
      externalId
      language
      timezone
      firstName
      lastName
      photoURL
      email
      telephone
      createdAt
      updatedAt
      preferences {
        notifications
      }
    }
    viewerNotifications {
      id
      key
      name
      channels
      createdAt
    }
  }
`);

const FrontMessagesList = graphql(`
  query FrontMessagesList($skip: Int, $limit: Int) {
    inboxPage(skip: $skip, limit: $limit) {
      total
      unreadCount
      items {
        id
        notificationId
        title
        body
        icon
        image
        redirection
        data
        stackCount
        readAt
        seenAt
        createdAt
      }
    }
  }
`);

const FrontMessagesRead = graphql(`
  mutation FrontMessagesRead($ids: [ID!]!) {
    markRead(ids: $ids) {
      unreadCount
    }
  }
`);

const FrontMessagesReadAll = graphql(`
  mutation FrontMessagesReadAll {
    markAllRead
  }
`);

const FrontSetProfile = graphql(`
  mutation FrontSetProfile($preferences: PreferencesInput!) {
    setMyPreferences(preferences: $preferences) {
      notifications
    }
  }
`);

const MUTE_FLAGS = { muteWidget: 'IN_APP', muteEmail: 'EMAIL', muteSMS: 'SMS' } as const;

/** Herald's per-notification muted channels as Notifuse's preferences map. */
function notifusePreferences(notifications: Record<string, unknown>) {
  return Object.fromEntries(
    Object.entries(notifications).map(([id, channels]) => {
      const muted = new Set(channels as string[]);
      return [id, { notificationId: id, muteWidget: muted.has('IN_APP'), muteEmail: muted.has('EMAIL'), muteSMS: muted.has('SMS') }];
    }),
  );
}

const usersGet = defineRoute({
  api: 'notifuse-front',
  method: 'GET',
  path: '/front/users.get',
  summary: 'The widget user and the notifications they can mute',
  operation: FrontUsersGet,
  variables: () => ({}),
  respond(data, request) {
    const v = data.viewer;
    const projectId = request.query.get('projectId');
    return {
      status: 200,
      body: {
        user: {
          id: v.externalId,
          projectId,
          language: v.language,
          timezone: v.timezone,
          preferences: notifusePreferences(v.preferences.notifications),
          firstName: v.firstName,
          lastName: v.lastName,
          photoURL: v.photoURL,
          email: v.email,
          telephone: v.telephone,
          createdAt: v.createdAt,
          updatedAt: v.updatedAt,
        },
        notifications: data.viewerNotifications.map((n) => ({
          id: n.key ?? String(n.id),
          projectId,
          name: n.name,
          withWidget: n.channels.includes('IN_APP'),
          withEmail: n.channels.includes('EMAIL'),
          withSMS: n.channels.includes('SMS'),
          allowMuteWidget: true,
          allowMuteEmail: true,
          allowMuteSMS: true,
          createdAt: n.createdAt,
        })),
      },
    };
  },
});

const intParam = (query: URLSearchParams, name: string, fallback: number) => {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,6}$/.test(raw)) throw new RestInputError(`${name}: must be a non-negative integer`, name);
  return Number(raw);
};

const messagesList = defineRoute({
  api: 'notifuse-front',
  method: 'GET',
  path: '/front/messages.list',
  summary: 'Widget messages, newest first, with the unread count and the total',
  operation: FrontMessagesList,
  variables: (request) => ({ skip: intParam(request.query, 'skip', 0), limit: intParam(request.query, 'limit', 20) }),
  respond(data, request) {
    const page = data.inboxPage;
    return {
      status: 200,
      body: {
        messages: page.items.map((item) => ({
          id: item.id,
          projectId: request.query.get('projectId'),
          notificationId: item.notificationId,
          userId: request.query.get('userId'),
          data: item.data,
          title: item.title,
          content: item.body,
          icon: item.icon,
          image: item.image,
          redirection: item.redirection,
          stackCount: item.stackCount,
          read: item.readAt !== null,
          readAt: item.readAt,
          createdAt: item.createdAt,
        })),
        unread: page.unreadCount,
        total: page.total,
      },
    };
  },
  openapi: { query: [{ name: 'skip', schema: { type: 'integer', minimum: 0 } }, { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 100 } }] },
});

const messagesRead = defineRoute({
  api: 'notifuse-front',
  method: 'POST',
  path: '/front/messages.read',
  summary: 'Mark one widget message read',
  operation: FrontMessagesRead,
  variables(request) {
    const messageId = objectBody(request.body).messageId ?? request.query.get('messageId');
    if (typeof messageId !== 'string' || !messageId) throw new RestInputError('messageId: is required', 'messageId');
    return { ids: [messageId] };
  },
  respond: (data) => ({ status: 200, body: { ok: true, unread: data.markRead.unreadCount } }),
});

const messagesReadAll = defineRoute({
  api: 'notifuse-front',
  method: 'POST',
  path: '/front/messages.readAll',
  summary: 'Mark every widget message read',
  operation: FrontMessagesReadAll,
  variables: () => ({}),
  respond: (data) => ({ status: 200, body: { ok: true, unread: data.markAllRead } }),
});

const setProfile = defineRoute({
  api: 'notifuse-front',
  method: 'POST',
  path: '/front/users.setProfile',
  summary: "Save the widget user's mute preferences",
  operation: FrontSetProfile,
  variables(request) {
    const user = objectBody(request.body).user;
    if (typeof user !== 'object' || user === null) throw new RestInputError('user: must be an object', 'user');
    const prefs = (user as { preferences?: unknown }).preferences ?? {};
    if (typeof prefs !== 'object' || prefs === null || Array.isArray(prefs)) throw new RestInputError('user.preferences: must be an object', 'user.preferences');
    const notifications: Record<string, string[]> = {};
    for (const [id, value] of Object.entries(prefs as Record<string, Record<string, unknown>>)) {
      if (typeof value !== 'object' || value === null) throw new RestInputError(`user.preferences.${id}: must be an object`, `user.preferences.${id}`);
      notifications[id] = Object.entries(MUTE_FLAGS).flatMap(([flag, channel]) => (value[flag] === true ? [channel] : []));
    }
    return { preferences: { notifications } };
  },
  respond: (data) => ({ status: 200, body: { ok: true, preferences: notifusePreferences(data.setMyPreferences.notifications) } }),
});

export const notifuseFrontRoutes: RestRoute[] = [usersGet, messagesList, messagesRead, messagesReadAll, setProfile];
