import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, objectBody, RestAnswer, RestInputError, type RestRequest } from '../../rest/route.ts';

const RestUsersUpsert = graphql(`
  mutation RestUsersUpsert($users: [UserInput!]!) {
    upsertUsers(users: $users, mode: FILL_MISSING) {
      ok
      externalId
      created
      error {
        code
        message
      }
    }
  }
`);

/** Notifuse's reserved profile fields; any other key of a user is a custom field. */
const RESERVED = ['firstName', 'lastName', 'photoURL', 'timezone', 'language', 'country', 'email', 'telephone'] as const;

/** The GraphQL upsert's limit, checked here too: the batch is counted before its unreadable items are set aside. */
const MAX_UPSERT_BATCH = 100;

type Item = { user: Record<string, unknown> } | { result: { id: string | null; ok: false; error: string } };

/**
 * One user of the batch: reserved keys are profile fields, other keys custom fields. A user that
 * cannot be read (not an object, no id, a profile field that is not a string) gets its own
 * `ok: false` result naming the field, like a user whose values are invalid; the others are upserted.
 */
function readUser(raw: unknown): Item {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { result: { id: null, ok: false, error: 'user: must be an object' } };
  const { id, ...rest } = raw as Record<string, unknown>;
  // Notifuse clients often hold numeric user ids: they are the same id as a string.
  const externalId = typeof id === 'number' ? String(id) : id;
  if (externalId == null) return { result: { id: null, ok: false, error: 'id: is required' } };
  if (typeof externalId !== 'string') return { result: { id: null, ok: false, error: 'id: must be a string' } };
  const custom: Record<string, unknown> = {};
  const profile: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if ((RESERVED as readonly string[]).includes(key)) {
      if (value != null && typeof value !== 'string') return { result: { id: externalId, ok: false, error: `${key}: must be a string` } };
      profile[key] = value;
    } else if (key !== 'projectId' && key !== 'createdAt' && key !== 'updatedAt') custom[key] = value;
  }
  return { user: { ...profile, externalId, ...(Object.keys(custom).length ? { custom } : {}) } };
}

/** The items of each request, kept between variables() and respond() (the request object is the key). */
const batches = new WeakMap<RestRequest, Item[]>();

type Result = { id: string | null; ok: true; created: boolean } | { id: string | null; ok: false; error: string };

function results(items: Item[], upserted: { ok: boolean; externalId?: string | null; created?: boolean | null; error?: { message: string } | null }[]): Result[] {
  let next = 0;
  return items.map((item) => {
    if ('result' in item) return item.result;
    const r = upserted[next++]!;
    return r.ok ? { id: r.externalId ?? null, ok: true, created: r.created ?? false } : { id: r.externalId ?? null, ok: false, error: r.error?.message ?? 'invalid' };
  });
}

/** `POST /users.upsert` (Notifuse): create users or fill their missing fields, 100 at most, one result per user. */
export const usersUpsertRoute = defineRoute({
  api: 'notifuse',
  method: 'POST',
  path: '/users.upsert',
  summary: 'Create users, or fill their missing profile fields (at most 100 per call)',
  operation: RestUsersUpsert,
  variables(request) {
    // A body that is not a batch at all is refused as a whole; the batch's users are judged one by one.
    const users = objectBody(request.body).users;
    if (!Array.isArray(users)) throw new RestInputError('users: must be an array of users', 'users');
    if (users.length === 0) throw new RestInputError('users: give at least one user', 'users');
    if (users.length > MAX_UPSERT_BATCH) throw new RestInputError(`users: at most ${MAX_UPSERT_BATCH} users per call (got ${users.length})`, 'users');
    const items = users.map(readUser);
    batches.set(request, items);
    const readable = items.flatMap((item) => ('user' in item ? [item.user] : []));
    if (readable.length === 0) throw new RestAnswer({ status: 200, body: { results: results(items, []) } });
    return { users: readable as never };
  },
  respond(data, request) {
    return { status: 200, body: { results: results(batches.get(request)!, data.upsertUsers) } };
  },
  openapi: {
    requestBody: {
      type: 'object',
      required: ['users'],
      properties: {
        users: {
          type: 'array',
          minItems: 1,
          maxItems: MAX_UPSERT_BATCH,
          description: 'A user that cannot be read (not an object, no id, a profile field that is not a string) gets its own ok:false result naming the field; the others are upserted.',
          items: {
            type: 'object',
            required: ['id'],
            additionalProperties: true,
            properties: {
              id: { type: ['string', 'number'], description: 'Your user id (numbers are read as strings)' },
              email: { type: 'string', format: 'email' },
              telephone: { type: 'string', description: 'International format ("+44 7911 123456", "0044 7911 123456"): stored, and returned, as E.164 ("+447911123456")' },
              language: { type: 'string' },
              timezone: { type: 'string' },
              firstName: { type: 'string' },
              lastName: { type: 'string' },
              photoURL: { type: 'string', format: 'uri' },
              country: { type: 'string', description: 'ISO 3166-1 alpha-2' },
            },
          },
        },
      },
    },
    response: {
      type: 'object',
      required: ['results'],
      properties: {
        results: {
          type: 'array',
          description: 'One per user, in input order',
          items: {
            oneOf: [
              { type: 'object', required: ['id', 'ok', 'created'], additionalProperties: false, properties: { id: { type: 'string' }, ok: { const: true }, created: { type: 'boolean' } } },
              { type: 'object', required: ['id', 'ok', 'error'], additionalProperties: false, properties: { id: { type: ['string', 'null'] }, ok: { const: false }, error: { type: 'string' } } },
            ],
          },
        },
      },
    },
  },
});
