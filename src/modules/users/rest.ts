import { graphql } from '../../generated/gql/index.ts';
import { defineRoute, objectBody, RestInputError } from '../../rest/route.ts';

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

/** `POST /users.upsert` (Notifuse): create users or fill their missing fields, 100 at most. */
export const usersUpsertRoute = defineRoute({
  api: 'notifuse',
  method: 'POST',
  path: '/users.upsert',
  summary: 'Create users, or fill their missing profile fields (at most 100 per call)',
  operation: RestUsersUpsert,
  variables(request) {
    const users = objectBody(request.body).users;
    if (!Array.isArray(users)) throw new RestInputError('users: must be an array of users', 'users');
    return {
      users: users.map((item: unknown, index) => {
        if (typeof item !== 'object' || item === null || Array.isArray(item)) {
          throw new RestInputError(`users.${index}: must be an object`, `users.${index}`);
        }
        const { id, ...rest } = item as Record<string, unknown>;
        const custom: Record<string, unknown> = {};
        const profile: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(rest)) {
          if ((RESERVED as readonly string[]).includes(key)) profile[key] = value;
          else if (key !== 'projectId' && key !== 'createdAt' && key !== 'updatedAt') custom[key] = value;
        }
        // Notifuse clients often hold numeric user ids: they are the same id as a string.
        const externalId = typeof id === 'number' ? String(id) : id;
        return { ...profile, externalId, ...(Object.keys(custom).length ? { custom } : {}) } as never;
      }),
    };
  },
  respond(data) {
    return {
      status: 200,
      body: {
        results: data.upsertUsers.map((r) =>
          r.ok ? { id: r.externalId, ok: true, created: r.created } : { id: r.externalId, ok: false, error: r.error?.message ?? 'invalid' },
        ),
      },
    };
  },
  openapi: {
    requestBody: {
      type: 'object',
      required: ['users'],
      properties: {
        users: {
          type: 'array',
          maxItems: 100,
          items: {
            type: 'object',
            required: ['id'],
            additionalProperties: true,
            properties: {
              id: { type: 'string' },
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
