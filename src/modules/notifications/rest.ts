import { graphql } from '../../generated/gql/index.ts';
import type {
  Np6FootprintFragment,
  Np6NotificationFragment,
  Np6RenderedFragment,
  Np6RenderMetaFragment,
  Np6VersionFragment,
} from '../../generated/gql/graphql.ts';
import { legacyError } from '../../rest/apis.ts';
import { defineRoute, objectBody, RestInputError, type RestRequest, type RestRoute } from '../../rest/route.ts';

/**
 * NP6's notification API (X-Key), mapped onto the GraphQL catalog operations. Routes only
 * translate: NP6 bodies → GraphQL inputs, GraphQL results → NP6 objects. Validation, auth and
 * errors come from GraphQL (the bridge maps their codes to statuses).
 */

// ---------- documents ----------

graphql(`
  fragment Np6Version on NotificationVersion {
    id
    master
    label
    scripting
    redirection
    channel
    stamp {
      creation
      modification
    }
    contents {
      locale
      title
      body
      icon
      thumbnail
      image
      email {
        subject
        html
        text
      }
      sms {
        text
      }
      whatsapp {
        text
        templateName
        templateLanguage
        parameters
      }
    }
  }
`);

graphql(`
  fragment Np6Notification on Notification {
    type
    id
    key
    name
    description
    active
    application
    channels
    defaultLanguage
    stamp {
      creation
      modification
    }
    settings {
      urgent
      category
      purpose
      expiration
      mp
    }
    task {
      id
      name
      description
      scheduler
    }
    versions {
      ...Np6Version
    }
  }
`);

graphql(`
  fragment Np6RenderMeta on RenderMeta {
    notification
    version
    application
    subscription
    stamp
    channel
    redirection
  }
`);

graphql(`
  fragment Np6Rendered on RenderedContent {
    locale
    title
    body
    icon
    thumbnail
    image
    email {
      subject
      html
      text
    }
    sms {
      text
    }
    whatsapp {
      text
      templateName
      templateLanguage
      parameters
    }
  }
`);

graphql(`
  fragment Np6Footprint on ContactFootprint {
    type
    id
    externalId
    unicity
    hash
  }
`);

const Np6ListNotifications = graphql(`
  query Np6ListNotifications($first: Int, $after: String, $filter: NotificationFilter) {
    notifications(first: $first, after: $after, filter: $filter) {
      edges {
        node {
          ...Np6Notification
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const Np6GetNotification = graphql(`
  query Np6GetNotification($id: Int!) {
    notification(id: $id) {
      ...Np6Notification
    }
  }
`);

const Np6CreateNotification = graphql(`
  mutation Np6CreateNotification($input: NotificationInput!) {
    createNotification(input: $input) {
      ...Np6Notification
    }
  }
`);

const Np6UpdateNotification = graphql(`
  mutation Np6UpdateNotification($id: Int!, $input: NotificationInput!) {
    updateNotification(id: $id, input: $input) {
      ...Np6Notification
    }
  }
`);

const Np6DeleteNotification = graphql(`
  mutation Np6DeleteNotification($id: Int!) {
    deleteNotification(id: $id)
  }
`);

const Np6DuplicateNotification = graphql(`
  mutation Np6DuplicateNotification($id: Int!) {
    duplicateNotification(id: $id) {
      ...Np6Notification
    }
  }
`);

const Np6ActivateNotification = graphql(`
  mutation Np6ActivateNotification($id: Int!) {
    activateNotification(id: $id) {
      id
    }
  }
`);

const Np6DeactivateNotification = graphql(`
  mutation Np6DeactivateNotification($id: Int!) {
    deactivateNotification(id: $id) {
      id
    }
  }
`);

const Np6ListVersions = graphql(`
  query Np6ListVersions($id: Int!) {
    notification(id: $id) {
      versions {
        ...Np6Version
      }
    }
  }
`);

const Np6CreateVersion = graphql(`
  mutation Np6CreateVersion($id: Int!, $input: NotificationVersionInput!) {
    createNotificationVersion(notificationId: $id, input: $input) {
      ...Np6Version
    }
  }
`);

const Np6UpdateVersion = graphql(`
  mutation Np6UpdateVersion($id: Int!, $versionId: ID!, $input: NotificationVersionInput!) {
    updateNotificationVersion(notificationId: $id, versionId: $versionId, input: $input) {
      ...Np6Version
    }
  }
`);

const Np6DeleteVersion = graphql(`
  mutation Np6DeleteVersion($id: Int!, $versionId: ID!) {
    deleteNotificationVersion(notificationId: $id, versionId: $versionId)
  }
`);

const Np6SetMasterVersion = graphql(`
  mutation Np6SetMasterVersion($id: Int!, $versionId: ID!) {
    setMasterVersion(notificationId: $id, versionId: $versionId) {
      ...Np6Version
    }
  }
`);

const Np6Render = graphql(`
  query Np6Render(
    $id: Int!
    $versionId: ID
    $contact: ContactInput
    $data: JSONObject
    $variables: [JSONObject!]
    $locale: String
    $stamp: StampInput
  ) {
    renderNotification(id: $id, versionId: $versionId, contact: $contact, data: $data, variables: $variables, locale: $locale, stamp: $stamp) {
      type
      meta {
        ...Np6RenderMeta
      }
      render {
        ...Np6Rendered
      }
    }
  }
`);

const Np6Test = graphql(`
  mutation Np6Test($id: Int!, $versionId: ID, $input: NotificationTestInput) {
    testNotification(id: $id, versionId: $versionId, input: $input) {
      type
      id
      status
      meta {
        ...Np6RenderMeta
      }
      recipient {
        ...Np6Footprint
      }
      render {
        ...Np6Rendered
      }
    }
  }
`);

const Np6Execute = graphql(`
  mutation Np6Execute($id: Int!, $executions: [ExecutionInput!]!) {
    executeNotification(id: $id, executions: $executions) {
      type
      id
      recipient {
        ...Np6Footprint
      }
      error {
        code
        message
      }
    }
  }
`);

// ---------- request → variables ----------

/** NP6's `{id}` path parameter: an int32 notification id. */
function notificationId(request: RestRequest): number {
  const raw = request.params.id!;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2_147_483_647) throw new RestInputError('id: must be a notification id (int32)', 'id');
  return Number(raw);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * An NP6 version body → NotificationVersionInput: drops the read-only `stamp` and turns NP6's
 * `content: { type: "localized", locales: { fr: {...} } }` into Herald's `contents: [{ locale: "fr", ... }]`
 * (Herald's own `contents` list is accepted as is).
 */
function versionInput(value: unknown, field: string, { keepId }: { keepId: boolean }): unknown {
  if (!isObject(value)) return value; // GraphQL says what is wrong with it.
  const { stamp: _stamp, id, content, contents, ...rest } = value;
  if (content !== undefined && contents !== undefined) throw new RestInputError(`${field}: give either content or contents, not both`, field);
  return { ...rest, ...(keepId && id !== undefined ? { id } : {}), contents: contents ?? contentsOf(content, `${field}.content`) };
}

function contentsOf(content: unknown, field: string): unknown {
  if (content == null) return content;
  if (!isObject(content) || !isObject(content.locales)) {
    throw new RestInputError(`${field}: must be { "type": "localized", "locales": { "<locale>": { "title": ..., "body": ... } } }`, field);
  }
  if (content.type !== undefined && content.type !== 'localized') {
    throw new RestInputError(`${field}.type: only "localized" content is supported`, `${field}.type`);
  }
  return Object.entries(content.locales).map(([locale, localized]) => {
    if (!isObject(localized)) throw new RestInputError(`${field}.locales.${locale}: must be an object`, `${field}.locales.${locale}`);
    return { ...localized, locale };
  });
}

/** An NP6 notification body → NotificationInput: drops the read-only `id` and `stamp`. */
function notificationInput(body: unknown) {
  const { id: _id, stamp: _stamp, versions, ...rest } = objectBody(body);
  const mapped = Array.isArray(versions) ? versions.map((v, i) => versionInput(v, `versions.${i}`, { keepId: true })) : versions;
  return { ...rest, ...(versions !== undefined ? { versions: mapped } : {}) } as never;
}

function optionalBody(body: unknown): Record<string, unknown> {
  return body === undefined ? {} : objectBody(body);
}

// ---------- results → NP6 answers ----------

function np6Version(v: Np6VersionFragment) {
  return {
    id: v.id,
    master: v.master,
    label: v.label ?? null,
    stamp: v.stamp,
    scripting: v.scripting ?? null,
    content: {
      type: 'localized',
      locales: Object.fromEntries(
        v.contents.map((c) => [
          c.locale,
          { title: c.title ?? null, body: c.body ?? null, icon: c.icon ?? null, thumbnail: c.thumbnail ?? null, image: c.image ?? null, email: c.email ?? null, sms: c.sms ?? null, whatsapp: c.whatsapp ?? null },
        ]),
      ),
    },
    redirection: v.redirection ?? null,
    channel: v.channel ?? null,
  };
}

function np6Notification(n: Np6NotificationFragment) {
  return {
    type: n.type,
    id: n.id,
    key: n.key ?? null,
    name: n.name,
    description: n.description ?? null,
    stamp: n.stamp,
    active: n.active,
    settings: n.settings,
    application: n.application ?? null,
    task: n.task ?? null,
    channels: n.channels,
    defaultLanguage: n.defaultLanguage,
    versions: n.versions.map(np6Version),
  };
}

function np6Render(meta: Np6RenderMetaFragment, render: Np6RenderedFragment) {
  return {
    meta: {
      notification: meta.notification,
      version: meta.version,
      application: meta.application ?? null,
      subscription: meta.subscription ?? null,
      stamp: meta.stamp ?? null,
      channel: meta.channel ?? null,
      redirection: meta.redirection ?? null,
    },
    render: {
      title: render.title ?? null,
      body: render.body ?? null,
      icon: render.icon ?? null,
      thumbnail: render.thumbnail ?? null,
      image: render.image ?? null,
      locale: render.locale,
      email: render.email ?? null,
      sms: render.sms ?? null,
      whatsapp: render.whatsapp ?? null,
    },
  };
}

function np6Footprint(f: Np6FootprintFragment | null | undefined) {
  return f ? { type: f.type, id: f.id, externalId: f.externalId, unicity: f.unicity ?? null, hash: f.hash ?? null } : null;
}

type ExecutionData = { executeNotification: { type: string; id?: string | null; recipient?: Np6FootprintFragment | null; error?: { code: string; message: string } | null }[] };
function np6Execution(r: ExecutionData['executeNotification'][number]) {
  return r.type === 'success'
    ? { type: r.type, id: r.id, recipient: np6Footprint(r.recipient) }
    : { type: r.type, error: { code: r.error?.code ?? 'failure', message: r.error?.message ?? '' } };
}

// ---------- OpenAPI schemas (shared) ----------

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const uuid = { type: 'string', format: 'uuid' } as const;
const typed = { type: 'object', required: ['type'], properties: { type: str }, additionalProperties: true } as const;
const stamp = { type: 'object', properties: { creation: { type: 'string', format: 'date-time' }, modification: { type: 'string', format: 'date-time' } } } as const;
const trackingStamp = {
  type: 'object',
  description: 'NP6 stamp: tracks the conversation flow.',
  properties: { time: { type: 'integer', description: 'Milliseconds since the epoch' }, id: uuid, thread: uuid, set: uuid },
} as const;
const emailContent = { type: 'object', properties: { subject: str, html: { type: 'string', description: 'Outputs are HTML-escaped unless `| raw`' }, text: str } } as const;
const localeContentProps = {
  title: str,
  body: str,
  icon: str,
  thumbnail: str,
  image: str,
  email: emailContent,
  sms: { type: 'object', required: ['text'], properties: { text: str } },
  whatsapp: {
    type: 'object',
    properties: { text: str, templateName: str, templateLanguage: str, parameters: { type: 'array', items: str } },
  },
} as const;
const localizedContent = {
  type: 'object',
  description: 'Per-locale content; every text is a Liquid template.',
  required: ['locales'],
  properties: {
    type: { type: 'string', enum: ['localized'] },
    locales: { type: 'object', additionalProperties: { type: 'object', properties: localeContentProps } },
  },
} as const;
const versionProps = {
  master: { type: 'boolean' },
  label: str,
  scripting: { type: 'object', properties: { version: str } },
  redirection: typed,
  channel: typed,
} as const;
const versionInputSchema = {
  type: 'object',
  description: 'Give `content` (NP6) or `contents` (Herald); `id` and `stamp` are read-only. Must include the default language.',
  properties: {
    ...versionProps,
    content: localizedContent,
    contents: { type: 'array', items: { type: 'object', required: ['locale'], properties: { locale: str, ...localeContentProps } } },
  },
} as const;
const versionSchema = {
  type: 'object',
  properties: { id: uuid, ...versionProps, stamp, content: localizedContent },
} as const;
const notificationProps = {
  type: { type: 'string', enum: ['push-app', 'in-app', 'email', 'sms', 'whatsapp', 'web-push', 'webhook', 'multichannel'] },
  key: { type: 'string', description: 'Herald: a stable key, e.g. "welcome"' },
  name: str,
  description: str,
  active: { type: 'boolean' },
  settings: {
    type: 'object',
    properties: { urgent: { type: 'boolean' }, category: { type: 'integer' }, purpose: typed, expiration: typed, mp: { type: 'object' } },
  },
  application: uuid,
  task: { type: 'object', properties: { id: uuid, name: str, description: str, scheduler: typed } },
  channels: { type: 'array', items: { type: 'string', enum: ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK'] } },
  defaultLanguage: { type: 'string', description: 'Defaults to "en"' },
} as const;
const notificationSchema = {
  type: 'object',
  properties: { id: { type: 'integer', format: 'int32' }, stamp, ...notificationProps, versions: { type: 'array', items: versionSchema } },
} as const;
const notificationInputSchema = {
  type: 'object',
  required: ['type', 'name'],
  description: 'An NP6 notification; `id` and `stamp` are read-only and ignored. On PUT, `versions` (when given) replace the versions.',
  properties: { ...notificationProps, versions: { type: 'array', items: versionInputSchema } },
} as const;
const renderedSchema = {
  type: 'object',
  properties: { locale: { type: 'string', description: 'The locale that was picked' }, ...localeContentProps },
} as const;
const renderMetaSchema = {
  type: 'object',
  properties: { notification: { type: 'integer' }, version: uuid, application: nullableStr, subscription: nullableStr, stamp: trackingStamp, channel: nullableStr, redirection: nullableStr },
} as const;
const renderResultSchema = { type: 'object', properties: { type: { type: 'string', enum: ['success'] }, meta: renderMetaSchema, render: renderedSchema } } as const;
const contactRef = {
  type: 'object',
  description: 'Exactly one of id (Herald id or externalId), unicity (e.g. the email), hash (sha256 hex of the lower-cased unicity)',
  properties: { id: str, unicity: str, hash: str },
} as const;
const renderBodySchema = {
  type: 'object',
  properties: {
    receiver: contactRef,
    related: { type: 'object', description: 'Accepted, not used yet' },
    data: { type: 'object' },
    variables: { type: 'array', items: { type: 'object' } },
    stamp: trackingStamp,
    locale: { type: 'string', description: "Herald: the locale to render (default: the contact's language)" },
  },
} as const;
const recipient = {
  type: 'object',
  required: ['value'],
  description: '`type` "id", "unicity" or "hash" with a string `value`, or `value` an object { id | unicity | hash }',
  properties: { type: str, value: {} },
} as const;
const overrides = { title: str, body: str, icon: str, thumbnail: str, image: str, data: { type: 'object' }, variables: { type: 'array', items: { type: 'object' } }, redirection: typed, channel: typed, locale: str } as const;
const testBodySchema = { type: 'object', properties: { recipient, ...overrides, expiration: typed } } as const;
const footprintSchema = {
  type: ['object', 'null'],
  properties: { type: { type: 'string', enum: ['footprint'] }, id: uuid, externalId: str, unicity: nullableStr, hash: nullableStr },
} as const;
const testResultSchema = {
  type: 'object',
  properties: { type: str, id: uuid, status: str, meta: renderMetaSchema, recipient: footprintSchema, render: renderedSchema },
} as const;
const executionItemSchema = { type: 'object', required: ['recipient'], properties: { recipient, ...overrides, stamp: trackingStamp, urgent: { type: 'boolean' } } } as const;
const executionResultSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['success', 'failure'] },
    id: uuid,
    recipient: footprintSchema,
    error: { type: 'object', properties: { code: { type: 'string', description: 'e.g. "contact/not-found"' }, message: str } },
  },
} as const;

// ---------- routes ----------

const api = 'np6' as const;

const listNotifications = defineRoute({
  api,
  method: 'GET',
  path: '/notifications',
  summary: 'Retrieve all notifications (by id; `X-Next-Cursor` carries the next page\'s cursor)',
  operation: Np6ListNotifications,
  variables(request) {
    const q = request.query;
    const limit = q.get('limit');
    if (limit !== null && !/^\d+$/.test(limit)) throw new RestInputError('limit: must be a positive integer', 'limit');
    const active = q.get('active');
    if (active !== null && active !== 'true' && active !== 'false') throw new RestInputError('active: must be true or false', 'active');
    return {
      first: limit === null ? 50 : Number(limit),
      after: q.get('after'),
      filter: { active: active === null ? null : active === 'true', type: q.get('type'), search: q.get('search'), application: q.get('application') },
    };
  },
  respond(data) {
    const { edges, pageInfo } = data.notifications;
    return {
      status: 200,
      body: edges.map((e) => np6Notification(e.node)),
      ...(pageInfo.hasNextPage && pageInfo.endCursor ? { headers: { 'x-next-cursor': pageInfo.endCursor } } : {}),
    };
  },
  openapi: {
    query: [
      { name: 'limit', description: 'Page size (default 50, at most 200)', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
      { name: 'after', description: 'The `X-Next-Cursor` of the previous page', schema: str },
      { name: 'active', schema: { type: 'boolean' } },
      { name: 'type', description: 'e.g. push-app', schema: str },
      { name: 'application', schema: uuid },
      { name: 'search', description: 'Substring of the name, description or key', schema: str },
    ],
    responseHeaders: { 'X-Next-Cursor': { description: 'Present when there is a next page: pass it as `after`', schema: str } },
    response: { type: 'array', items: notificationSchema },
  },
});

const createNotification = defineRoute({
  api,
  method: 'POST',
  path: '/notifications',
  summary: 'Create a notification',
  operation: Np6CreateNotification,
  variables: (request) => ({ input: notificationInput(request.body) }),
  respond: (data) => ({ status: 201, body: np6Notification(data.createNotification) }),
  openapi: { requestBody: notificationInputSchema, response: notificationSchema, successStatus: 201 },
});

const getNotification = defineRoute({
  api,
  method: 'GET',
  path: '/notifications/:id',
  summary: 'Retrieve the specified notification',
  operation: Np6GetNotification,
  variables: (request) => ({ id: notificationId(request) }),
  respond: (data) => ({ status: 200, body: np6Notification(data.notification) }),
  openapi: { response: notificationSchema },
});

const updateNotification = defineRoute({
  api,
  method: 'PUT',
  path: '/notifications/:id',
  summary: 'Update (replace) a notification',
  operation: Np6UpdateNotification,
  variables: (request) => ({ id: notificationId(request), input: notificationInput(request.body) }),
  respond: (data) => ({ status: 200, body: np6Notification(data.updateNotification) }),
  openapi: { requestBody: notificationInputSchema, response: notificationSchema },
});

const deleteNotification = defineRoute({
  api,
  method: 'DELETE',
  path: '/notifications/:id',
  summary: 'Delete a notification and its versions',
  operation: Np6DeleteNotification,
  variables: (request) => ({ id: notificationId(request) }),
  respond: () => ({ status: 204 }),
  openapi: { successStatus: 204 },
});

const duplicateNotification = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/duplication',
  summary: 'Duplicate a notification (the copy is inactive and has no key)',
  operation: Np6DuplicateNotification,
  variables: (request) => ({ id: notificationId(request) }),
  respond: (data) => ({ status: 200, body: np6Notification(data.duplicateNotification) }),
  openapi: { response: notificationSchema },
});

const activateNotification = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/activation',
  summary: 'Activate a notification (it needs a master version)',
  operation: Np6ActivateNotification,
  variables: (request) => ({ id: notificationId(request) }),
  respond: () => ({ status: 204 }),
  openapi: { successStatus: 204 },
});

const deactivateNotification = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/deactivation',
  summary: 'Deactivate a notification',
  operation: Np6DeactivateNotification,
  variables: (request) => ({ id: notificationId(request) }),
  respond: () => ({ status: 204 }),
  openapi: { successStatus: 204 },
});

const listVersions = defineRoute({
  api,
  method: 'GET',
  path: '/notifications/:id/versions',
  summary: 'Herald: retrieve the versions of a notification',
  operation: Np6ListVersions,
  variables: (request) => ({ id: notificationId(request) }),
  respond: (data) => ({ status: 200, body: data.notification.versions.map(np6Version) }),
  openapi: { response: { type: 'array', items: versionSchema } },
});

const createVersion = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/versions',
  summary: 'Herald: add a version (it becomes the master when `master` is true or when there is none)',
  operation: Np6CreateVersion,
  variables: (request) => ({ id: notificationId(request), input: versionInput(objectBody(request.body), 'version', { keepId: false }) as never }),
  respond: (data) => ({ status: 201, body: np6Version(data.createNotificationVersion) }),
  openapi: { requestBody: versionInputSchema, response: versionSchema, successStatus: 201 },
});

const getVersion = defineRoute({
  api,
  method: 'GET',
  path: '/notifications/:id/versions/:version',
  summary: 'Herald: retrieve one version',
  operation: Np6ListVersions,
  variables: (request) => ({ id: notificationId(request) }),
  respond(data, request) {
    const version = data.notification.versions.find((v) => v.id === request.params.version);
    // The schema has no one-version query: an unknown version answers like GraphQL's NOT_FOUND.
    if (!version) {
      return legacyError(api, { status: 404, code: 'NOT_FOUND', message: `Version ${JSON.stringify(request.params.version)} not found`, requestId: request.requestId });
    }
    return { status: 200, body: np6Version(version) };
  },
  openapi: { response: versionSchema },
});

const updateVersion = defineRoute({
  api,
  method: 'PUT',
  path: '/notifications/:id/versions/:version',
  summary: 'Herald: update (replace) a version',
  operation: Np6UpdateVersion,
  variables: (request) => ({
    id: notificationId(request),
    versionId: request.params.version!,
    input: versionInput(objectBody(request.body), 'version', { keepId: false }) as never,
  }),
  respond: (data) => ({ status: 200, body: np6Version(data.updateNotificationVersion) }),
  openapi: { requestBody: versionInputSchema, response: versionSchema },
});

const deleteVersion = defineRoute({
  api,
  method: 'DELETE',
  path: '/notifications/:id/versions/:version',
  summary: 'Herald: delete a version (not the master: 409)',
  operation: Np6DeleteVersion,
  variables: (request) => ({ id: notificationId(request), versionId: request.params.version! }),
  respond: () => ({ status: 204 }),
  openapi: { successStatus: 204 },
});

const setMasterVersion = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/versions/:version/master',
  summary: 'Herald: make a version the master',
  operation: Np6SetMasterVersion,
  variables: (request) => ({ id: notificationId(request), versionId: request.params.version! }),
  respond: (data) => ({ status: 200, body: np6Version(data.setMasterVersion) }),
  openapi: { response: versionSchema },
});

type RenderData = { renderNotification: { type: string; meta: Np6RenderMetaFragment; render: Np6RenderedFragment } };
const renderAnswer = (data: RenderData) => ({ status: 200, body: { type: data.renderNotification.type, ...np6Render(data.renderNotification.meta, data.renderNotification.render) } });

/** The three render routes of the master (prefix '') or of a version (prefix '/versions/:version'). */
function renderRoutes(prefix: '' | '/versions/:version'): RestRoute[] {
  const which = prefix ? 'the specified version' : 'the "master" version';
  const versionId = (request: RestRequest) => request.params.version ?? null;
  return [
    defineRoute({
      api,
      method: 'POST',
      path: `/notifications/:id${prefix}/render`,
      summary: `Render ${which} of the notification, with no contact or for \`receiver\``,
      operation: Np6Render,
      variables(request) {
        const body = optionalBody(request.body);
        return {
          id: notificationId(request),
          versionId: versionId(request),
          contact: (body.receiver ?? null) as never,
          data: (body.data ?? null) as never,
          variables: (body.variables ?? null) as never,
          locale: (body.locale ?? null) as never,
          stamp: (body.stamp ?? null) as never,
        };
      },
      respond: renderAnswer,
      openapi: { requestBody: renderBodySchema, response: renderResultSchema },
    }),
    defineRoute({
      api,
      method: 'GET',
      path: `/notifications/:id${prefix}/render/contact/:contact`,
      summary: `Render ${which} of the notification for a contact id (Herald id or externalId)`,
      operation: Np6Render,
      variables: (request) => ({
        id: notificationId(request),
        versionId: versionId(request),
        contact: { id: request.params.contact! },
        locale: request.query.get('locale'),
      }),
      respond: renderAnswer,
      openapi: { query: [{ name: 'locale', description: 'Herald: the locale to render', schema: str }], response: renderResultSchema },
    }),
    defineRoute({
      api,
      method: 'GET',
      path: `/notifications/:id${prefix}/render/contact`,
      summary: `Render ${which} of the notification for a contact unicity or hash`,
      operation: Np6Render,
      variables(request) {
        const unicity = request.query.get('unicity');
        const hash = request.query.get('hash');
        // With neither, there is no contact to render for (and no render without one on this path).
        if (!unicity && !hash) throw new RestInputError('give the contact as ?unicity= or ?hash=', 'unicity');
        return { id: notificationId(request), versionId: versionId(request), contact: { unicity, hash }, locale: request.query.get('locale') };
      },
      respond: renderAnswer,
      openapi: {
        query: [
          { name: 'unicity', description: 'The unicity value (e.g. the email, case-insensitive)', schema: str },
          { name: 'hash', description: 'sha256 hex of the lower-cased unicity value', schema: str },
          { name: 'locale', description: 'Herald: the locale to render', schema: str },
        ],
        response: renderResultSchema,
      },
    }),
  ];
}

function testRoute(prefix: '' | '/versions/:version'): RestRoute {
  return defineRoute({
    api,
    method: 'POST',
    path: `/notifications/:id${prefix}/test`,
    summary: `Test ${prefix ? 'the specified version' : 'the "master" version'} of the notification (sends the render to the test recipient through the pipeline, or only records it without one; inactive notifications too)`,
    operation: Np6Test,
    variables: (request) => ({
      id: notificationId(request),
      versionId: request.params.version ?? null,
      input: optionalBody(request.body) as never,
    }),
    respond(data) {
      const t = data.testNotification;
      const { meta, render } = np6Render(t.meta, t.render);
      return { status: 200, body: { type: t.type, id: t.id, status: t.status, meta, recipient: np6Footprint(t.recipient), render } };
    },
    openapi: { requestBody: testBodySchema, response: testResultSchema },
  });
}

const executeBatch = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/executions',
  summary: 'Execute the notification for a list of recipients (one result per item, in order)',
  operation: Np6Execute,
  variables(request) {
    if (!Array.isArray(request.body)) throw new RestInputError('the request body must be a JSON array of executions');
    return { id: notificationId(request), executions: request.body as never };
  },
  respond: (data) => ({ status: 200, body: data.executeNotification.map(np6Execution) }),
  openapi: { requestBody: { type: 'array', items: executionItemSchema, maxItems: 500 }, response: { type: 'array', items: executionResultSchema } },
});

const executeOne = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/execution',
  summary: 'Execute the notification for one recipient (unknown contact: 404)',
  operation: Np6Execute,
  variables: (request) => ({ id: notificationId(request), executions: [objectBody(request.body)] as never }),
  respond(data, request) {
    const result = data.executeNotification[0]!;
    if (result.type === 'failure' && result.error?.code === 'contact/not-found') {
      return legacyError(api, { status: 404, code: 'NOT_FOUND', message: result.error.message, requestId: request.requestId });
    }
    return { status: 200, body: np6Execution(result) };
  },
  openapi: { requestBody: executionItemSchema, response: executionResultSchema },
});

/** NP6's notification routes, in the order of NP6's reference (versions are Herald's). */
export const np6NotificationRoutes: RestRoute[] = [
  listNotifications,
  createNotification,
  getNotification,
  updateNotification,
  deleteNotification,
  ...renderRoutes(''),
  ...renderRoutes('/versions/:version'),
  testRoute(''),
  testRoute('/versions/:version'),
  executeBatch,
  executeOne,
  duplicateNotification,
  activateNotification,
  deactivateNotification,
  listVersions,
  createVersion,
  getVersion,
  updateVersion,
  deleteVersion,
  setMasterVersion,
];
