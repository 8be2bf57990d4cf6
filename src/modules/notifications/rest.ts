import { graphql } from '../../generated/gql/index.ts';
import { z } from 'zod';
import type {
  Np6ExecuteMutation,
  Np6FallbackFragment,
  Np6FootprintFragment,
  Np6NotificationFragment,
  Np6RenderedFragment,
  Np6RenderMetaFragment,
  Np6VersionFragment,
} from '../../generated/gql/graphql.ts';
import { issuesFrom } from '../../graphql/errors.ts';
import { legacyError } from '../../rest/apis.ts';
import { defineRoute, objectBody, RestInputError, type RestRequest, type RestRoute } from '../../rest/route.ts';
import { CHANNELS, MAX_EXTRA_BYTES, nonEmpty, NOTIFICATION_TYPES, NP6_MEMBERS, pickMembers, unknownMembers } from './content.ts';
import { executionItemSchema as executionItemInput, stampSchema, testInputSchema } from './executions.ts';
import { notificationInputSchema as notificationInputZod, versionInputSchema as versionInputZod } from './service.ts';

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
    content
    extra
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
    extra
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
      extra
    }
    task {
      id
      name
      description
      scheduler
      extra
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

graphql(`
  fragment Np6Fallback on ChannelFallback {
    from
    to
    reason
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
      fallback {
        ...Np6Fallback
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
      stamp
      fallback {
        ...Np6Fallback
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
 * Herald's dotted issue path → the path in the NP6 body, e.g. `versions.0.content.title` →
 * `versions[0].content.title`, `executions.0.recipient.value` → `[0].recipient.value` (strip
 * `executions`). `extra` is Herald's bag of an object's unknown members: its issues are the object's.
 */
function np6Path(field: string, strips: string[][] = []): string {
  let parts = field === '' ? [] : field.split('.');
  const strip = strips.find((prefix) => prefix.every((p, i) => parts[i] === p));
  if (strip) parts = parts.slice(strip.length);
  return parts.filter((p) => p !== 'extra').reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), '');
}

const GRAPHQL_TYPE_WORDS: Record<string, string> = { String: 'a string', ID: 'a string', Int: 'an integer', Float: 'a number', Boolean: 'true or false' };

/**
 * A GraphQL variable coercion message (`Variable "$executions" got invalid value … at
 * "executions[0].recipient"; Field "value" of required type "JSON!" was not provided.`) in NP6's
 * terms. The routes validate NP6 bodies before GraphQL sees them, so this is a safety net.
 */
function fromCoercion(message: string): { path: string; message: string } | null {
  // graphql-js writes `got invalid value <the value> at`; Herald's own wording (use-variable-errors.ts)
  // never repeats the value: `got an invalid value at`.
  const m = /^Variable "\$(\w+)" (?:got (?:an invalid value|invalid value [\s\S]*?)(?: at "([^"]+)")?; ([\s\S]+)|of required type "[^"]+" was not provided\.)$/.exec(message);
  if (!m) return null;
  let path = (m[2] ?? m[1]!).replace(/\[(\d+)\]/g, '.$1');
  const text = m[3];
  if (text === undefined) return { path, message: 'is required' };
  let words = 'has the wrong type';
  let f: RegExpExecArray | null;
  if ((f = /^Field "(\w+)" of required type "[^"]+" was not provided\.$/.exec(text))) [path, words] = [`${path}.${f[1]}`, 'is required'];
  else if ((f = /^Field "(\w+)" is not defined by type "[^"]+"\./.exec(text))) [path, words] = [`${path}.${f[1]}`, 'is not a member Herald knows'];
  else if ((f = /^(String|ID|Int|Float|Boolean) cannot represent/.exec(text))) words = `must be ${GRAPHQL_TYPE_WORDS[f[1]!]}`;
  else if (/JSONObject|object/i.test(text)) words = 'must be an object';
  else if (/Expected type "\[/.test(text) || /list/i.test(text)) words = 'must be an array';
  return { path, message: words };
}

/** A route's rewriting of GraphQL issues into the NP6 body's paths (see RestRoute.legacyIssue). */
const np6Issue =
  (...strips: string[][]) =>
  (issue: { field: string; message: string }) => {
    const coerced = fromCoercion(issue.message);
    return coerced ? { field: np6Path(coerced.path, strips), message: coerced.message } : { field: np6Path(issue.field, strips), message: issue.message };
  };

/**
 * Checks a mapped NP6 body against the schema the service applies, so a bad body is refused
 * here, with the legacy field paths, instead of as a GraphQL variable error. Answers the parsed value.
 */
function validated<S extends z.ZodType>(schema: S, value: unknown, prefix: (string | number)[] = []): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw RestInputError.of(issuesFrom(result.error.issues, prefix).map((i) => ({ field: np6Path(i.field), message: i.message })));
  return result.data;
}

/** An open NP6 object (settings, task) → its known members, with the unknown ones as `extra`. */
function openObject(value: unknown, known: readonly string[]): unknown {
  return isObject(value) ? { ...pickMembers(value, known), extra: nonEmpty(unknownMembers(value, known)) } : value;
}

/**
 * An NP6 version body → NotificationVersionInput: drops the read-only `stamp`, passes `content`
 * in whatever form it was written (the service reads it) and moves unknown members to `extra`.
 */
function versionInput(value: unknown, { keepId }: { keepId: boolean }): unknown {
  if (!isObject(value)) return value; // validation says what is wrong with it
  const { stamp: _stamp, id, ...rest } = value;
  return {
    ...pickMembers(rest, NP6_MEMBERS.version),
    ...(keepId && id !== undefined ? { id } : {}),
    extra: nonEmpty(unknownMembers(value, NP6_MEMBERS.version)),
  };
}

/** An NP6 notification body → NotificationInput: drops the read-only `id` and `stamp`; unknown members go to `extra`. */
function notificationInput(body: unknown) {
  const b = objectBody(body);
  const { id: _id, stamp: _stamp, versions, settings, task, ...rest } = b;
  const input = {
    ...pickMembers(rest, NP6_MEMBERS.notification),
    ...(settings !== undefined ? { settings: openObject(settings, NP6_MEMBERS.settings) } : {}),
    ...(task !== undefined ? { task: openObject(task, NP6_MEMBERS.task) } : {}),
    ...(versions !== undefined ? { versions: Array.isArray(versions) ? versions.map((v) => versionInput(v, { keepId: true })) : versions } : {}),
    extra: nonEmpty(unknownMembers(b, NP6_MEMBERS.notification)),
  };
  validated(notificationInputZod, input);
  return input as never;
}

function versionBody(body: unknown) {
  const input = versionInput(objectBody(body), { keepId: false });
  validated(versionInputZod, input);
  return input as never;
}

function optionalBody(body: unknown): Record<string, unknown> {
  return body === undefined ? {} : objectBody(body);
}

/** NP6's render body. `related` is accepted and not used; unknown members are ignored. */
const renderBody = z.object({
  receiver: z.object({ id: z.string().max(320).nullish(), unicity: z.string().max(320).nullish(), hash: z.string().max(64).nullish() }).nullish(),
  related: z.unknown().optional(),
  data: z.record(z.string(), z.unknown()).nullish(),
  variables: z.array(z.record(z.string(), z.unknown())).max(50).nullish(),
  stamp: stampSchema.nullish(),
  locale: z.string().max(35).nullish(),
});

// ---------- results → NP6 answers ----------

/** An open object as NP6 wrote it: its unknown members beside the known ones. */
function withExtra<T extends { extra?: unknown }>(value: T): Omit<T, 'extra'> & Record<string, unknown> {
  const { extra, ...known } = value;
  return { ...((extra as Record<string, unknown> | null) ?? {}), ...known };
}

function np6Version(v: Np6VersionFragment) {
  return {
    ...((v.extra as Record<string, unknown> | null) ?? {}),
    id: v.id,
    master: v.master,
    label: v.label ?? null,
    stamp: v.stamp,
    scripting: v.scripting ?? null,
    content: v.content,
    redirection: v.redirection ?? null,
    channel: v.channel ?? null,
  };
}

function np6Notification(n: Np6NotificationFragment) {
  return {
    ...((n.extra as Record<string, unknown> | null) ?? {}),
    type: n.type,
    id: n.id,
    key: n.key ?? null,
    name: n.name,
    description: n.description ?? null,
    stamp: n.stamp,
    active: n.active,
    settings: withExtra(n.settings),
    application: n.application ?? null,
    task: n.task ? withExtra(n.task) : null,
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
      stamp: meta.stamp,
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

/** The header that states a channel fallback (push-app → in-app) beside the answer's `fallback` members. */
function fallbackHeaders(fallbacks: (Np6FallbackFragment | null | undefined)[]): Record<string, string> | undefined {
  const f = fallbacks.find((x) => x != null);
  return f ? { 'x-herald-fallback': `push-app: ${f.from} -> ${f.to.join(', ')}` } : undefined;
}

type ExecutionData = Np6ExecuteMutation['executeNotification'][number];
function np6Execution(r: ExecutionData) {
  return r.type === 'success'
    ? { type: r.type, id: r.id, recipient: np6Footprint(r.recipient), stamp: r.stamp ?? null, ...(r.fallback ? { fallback: r.fallback } : {}) }
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
  chat: {
    type: 'object',
    description: 'Slack, Teams, Discord: Slack mrkdwn text and Block Kit blocks (Teams and Discord translate the common ones)',
    properties: { text: str, blocks: { type: 'array', maxItems: 50, items: { type: 'object', required: ['type'], properties: { type: str }, additionalProperties: true } } },
  },
  push: { type: 'object', description: 'Herald: the MOBILE_PUSH part (defaults: title, body, image)', properties: { title: str, body: str, image: str, sound: str } },
} as const;
const extraNote = `NP6 objects are open: unknown members are stored and answered back as given (at most ${MAX_EXTRA_BYTES} bytes of JSON per object).`;
const localizedContent = {
  type: 'object',
  title: 'Localized content (Herald)',
  description: 'Per-locale content; every text is a Liquid template. `type` may be left out when `locales` is given.',
  required: ['locales'],
  properties: {
    type: { type: 'string', const: 'localized' },
    locales: { type: 'object', minProperties: 1, additionalProperties: { type: 'object', properties: localeContentProps, additionalProperties: true } },
  },
  additionalProperties: true,
} as const;
const flatContent = {
  type: 'object',
  title: 'NP6 content (any variant)',
  description: 'Any `type` other than "localized" ("push-app", "default", "text"...) or none: the fields are the default language\'s content.',
  properties: { type: { type: 'string', maxLength: 100 }, ...localeContentProps },
  additionalProperties: true,
} as const;
const contentSchema = {
  description: `NP6 content, answered as it was written. ${extraNote}`,
  anyOf: [localizedContent, flatContent],
} as const;
const versionProps = {
  master: { type: 'boolean' },
  label: str,
  scripting: { type: 'object', properties: { version: str }, additionalProperties: true },
  redirection: typed,
  channel: typed,
} as const;
const versionInputSchema = {
  type: 'object',
  description: `Give \`content\` (NP6) or \`contents\` (Herald); \`stamp\` is read-only (\`id\`: on a notification PUT, the version to keep). Must include the default language. ${extraNote}`,
  properties: {
    ...versionProps,
    id: uuid,
    content: contentSchema,
    contents: {
      type: 'array',
      description: "Herald's closed form: one entry per locale, no other members",
      items: { type: 'object', required: ['locale'], properties: { locale: str, ...localeContentProps }, additionalProperties: false },
    },
  },
  additionalProperties: true,
} as const;
const versionSchema = {
  type: 'object',
  description: extraNote,
  properties: { id: uuid, ...versionProps, stamp, content: contentSchema },
  additionalProperties: true,
} as const;
const notificationProps = {
  type: { type: 'string', enum: [...NOTIFICATION_TYPES] },
  key: { type: 'string', description: 'Herald: a stable key, e.g. "welcome"' },
  name: str,
  description: str,
  active: { type: 'boolean' },
  settings: {
    type: 'object',
    description: extraNote,
    properties: { urgent: { type: 'boolean' }, category: { type: ['integer', 'null'] }, purpose: typed, expiration: typed, mp: { type: 'object' } },
    additionalProperties: true,
  },
  application: uuid,
  task: { type: 'object', description: extraNote, properties: { id: uuid, name: str, description: str, scheduler: typed }, additionalProperties: true },
  channels: { type: 'array', items: { type: 'string', enum: [...CHANNELS] } },
  defaultLanguage: { type: 'string', description: 'Defaults to "en"' },
} as const;
const notificationSchema = {
  type: 'object',
  description: extraNote,
  properties: { id: { type: 'integer', format: 'int32' }, stamp, ...notificationProps, versions: { type: 'array', items: versionSchema } },
  additionalProperties: true,
} as const;
const notificationInputSchema = {
  type: 'object',
  required: ['type', 'name'],
  description: `An NP6 notification; \`id\` and \`stamp\` are read-only and ignored. On PUT, \`versions\` (when given) replace the versions. ${extraNote}`,
  properties: { ...notificationProps, versions: { type: 'array', items: versionInputSchema } },
  additionalProperties: true,
} as const;
const renderedSchema = {
  type: 'object',
  properties: { locale: { type: 'string', description: 'The locale that was picked' }, ...localeContentProps },
} as const;
const renderMetaSchema = {
  type: 'object',
  properties: {
    notification: { type: 'integer' },
    version: uuid,
    application: nullableStr,
    subscription: {
      type: ['string', 'null'],
      description: "The contact's latest web push subscription when the notification is delivered by web push; null without a contact, without web push or without a subscription",
    },
    stamp: { ...trackingStamp, description: "The caller's stamp completed by Herald: time now, a new id (renders) or the test's id, thread and set default to the id" },
    channel: nullableStr,
    redirection: nullableStr,
  },
} as const;
const fallbackSchema = {
  type: 'object',
  description: 'Herald: present when the notification type implies a channel Herald does not have (push-app → mobile push) and where it went instead',
  properties: { from: { type: 'string', enum: ['MOBILE_PUSH'] }, to: { type: 'array', items: str }, reason: str },
} as const;
const fallbackHeader = {
  'X-Herald-Fallback': { description: 'Herald: present when an item has `fallback`, e.g. "push-app: MOBILE_PUSH -> IN_APP"', schema: str },
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
  additionalProperties: true,
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
  properties: { type: str, id: uuid, status: str, meta: renderMetaSchema, recipient: footprintSchema, render: renderedSchema, fallback: fallbackSchema },
} as const;
const executionItemSchema = {
  type: 'object',
  required: ['recipient'],
  description: 'Members Herald does not know are accepted and ignored.',
  properties: { recipient, ...overrides, stamp: trackingStamp, urgent: { type: 'boolean' } },
  additionalProperties: true,
} as const;
const executionResultSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['success', 'failure'] },
    id: uuid,
    recipient: footprintSchema,
    stamp: { ...trackingStamp, description: "Herald: the execution's stamp, the caller's completed (id: the execution id, thread: the id, set: one per call)" },
    fallback: fallbackSchema,
    error: { type: 'object', properties: { code: { type: 'string', description: 'e.g. "contact/not-found"' }, message: str } },
  },
} as const;

// ---------- routes ----------

const api = 'np6' as const;
/** Page size of the internal pages of GET /notifications without `limit`. */
const LIST_PAGE = 50;

const listNotifications = defineRoute({
  api,
  method: 'GET',
  path: '/notifications',
  summary: 'Retrieve all notifications, by id (Herald: `limit` pages them, `X-Next-Cursor` carries the next page\'s cursor)',
  operation: Np6ListNotifications,
  variables(request) {
    const q = request.query;
    const limit = q.get('limit');
    if (limit !== null && !/^\d+$/.test(limit)) throw new RestInputError('limit: must be a positive integer', 'limit');
    const active = q.get('active');
    if (active !== null && active !== 'true' && active !== 'false') throw new RestInputError('active: must be true or false', 'active');
    return {
      first: limit === null ? LIST_PAGE : Number(limit),
      after: q.get('cursor') ?? q.get('after'),
      filter: { active: active === null ? null : active === 'true', type: q.get('type'), search: q.get('search'), application: q.get('application') },
    };
  },
  respond(data, request) {
    const { edges, pageInfo } = data.notifications;
    const paged = request.query.get('limit') !== null;
    return {
      status: 200,
      body: edges.map((e) => np6Notification(e.node)),
      ...(paged && pageInfo.hasNextPage && pageInfo.endCursor ? { headers: { 'x-next-cursor': pageInfo.endCursor } } : {}),
    };
  },
  // NP6 documents one unpaginated list: without `limit`, every page is streamed in one answer.
  nextPage(data, variables, request) {
    const { hasNextPage, endCursor } = data.notifications.pageInfo;
    return request.query.get('limit') === null && hasNextPage && endCursor ? { ...variables, after: endCursor } : null;
  },
  openapi: {
    query: [
      { name: 'limit', description: 'Herald: answer one page of this size (at most 200) instead of every notification', schema: { type: 'integer', minimum: 1, maximum: 200 } },
      { name: 'cursor', description: 'Herald: the `X-Next-Cursor` of the previous page (alias: `after`)', schema: str },
      { name: 'after', description: 'Herald: same as `cursor`', schema: str },
      { name: 'active', schema: { type: 'boolean' } },
      { name: 'type', description: 'e.g. push-app', schema: str },
      { name: 'application', schema: uuid },
      { name: 'search', description: 'Substring of the name, description or key', schema: str },
    ],
    responseHeaders: { 'X-Next-Cursor': { description: 'With `limit`, when there is a next page: pass it as `cursor`', schema: str } },
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
  legacyIssue: np6Issue(['input']),
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
  legacyIssue: np6Issue(['input']),
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
  variables: (request) => ({ id: notificationId(request), input: versionBody(request.body) }),
  respond: (data) => ({ status: 201, body: np6Version(data.createNotificationVersion) }),
  legacyIssue: np6Issue(['version'], ['input']),
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
    input: versionBody(request.body),
  }),
  respond: (data) => ({ status: 200, body: np6Version(data.updateNotificationVersion) }),
  legacyIssue: np6Issue(['version'], ['input']),
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
        const body = validated(renderBody, optionalBody(request.body));
        return {
          id: notificationId(request),
          versionId: versionId(request),
          contact: body.receiver ?? null,
          data: body.data ?? null,
          variables: body.variables ?? null,
          locale: body.locale ?? null,
          stamp: body.stamp ?? null,
        };
      },
      respond: renderAnswer,
      legacyIssue: np6Issue(),
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
      input: validated(testInputSchema, optionalBody(request.body)) as never,
    }),
    respond(data) {
      const t = data.testNotification;
      const { meta, render } = np6Render(t.meta, t.render);
      return {
        status: 200,
        body: { type: t.type, id: t.id, status: t.status, meta, recipient: np6Footprint(t.recipient), render, ...(t.fallback ? { fallback: t.fallback } : {}) },
        headers: fallbackHeaders([t.fallback]),
      };
    },
    legacyIssue: np6Issue(['input']),
    openapi: { requestBody: testBodySchema, response: testResultSchema, responseHeaders: fallbackHeader },
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
    // Every item is checked, so the answer lists each bad one by its index (`[3].recipient.value`).
    const issues: { field: string; message: string }[] = [];
    const executions = request.body.map((item, i) => {
      const parsed = executionItemInput.safeParse(item);
      if (!parsed.success) issues.push(...issuesFrom(parsed.error.issues, [i]).map((issue) => ({ field: np6Path(issue.field), message: issue.message })));
      return parsed.data;
    });
    if (issues.length) throw RestInputError.of(issues);
    return { id: notificationId(request), executions: executions as never };
  },
  respond: (data) => ({ status: 200, body: data.executeNotification.map(np6Execution), headers: fallbackHeaders(data.executeNotification.map((r) => r.fallback)) }),
  legacyIssue: np6Issue(['executions']),
  openapi: { requestBody: { type: 'array', items: executionItemSchema, maxItems: 500 }, response: { type: 'array', items: executionResultSchema }, responseHeaders: fallbackHeader },
});

const executeOne = defineRoute({
  api,
  method: 'POST',
  path: '/notifications/:id/execution',
  summary: 'Execute the notification for one recipient (unknown contact: 404)',
  operation: Np6Execute,
  variables: (request) => ({ id: notificationId(request), executions: [validated(executionItemInput, objectBody(request.body))] as never }),
  respond(data, request) {
    const result = data.executeNotification[0]!;
    if (result.type === 'failure' && result.error?.code === 'contact/not-found') {
      return legacyError(api, { status: 404, code: 'NOT_FOUND', message: result.error.message, requestId: request.requestId });
    }
    return { status: 200, body: np6Execution(result), headers: fallbackHeaders([result.fallback]) };
  },
  legacyIssue: np6Issue(['executions', '0'], ['executions']),
  openapi: { requestBody: executionItemSchema, response: executionResultSchema, responseHeaders: fallbackHeader },
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
