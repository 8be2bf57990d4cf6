import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from 'graphql-scalars';
import { prisma } from '../db/client.ts';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import type { Context } from './context.ts';
import { badInput, forbidden, issuesFrom, unauthenticated } from './errors.ts';

/** Schema builder: setup only. Types and fields live in src/modules/<domain>/schema.ts. */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { operator: boolean; endUser: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
}>({
  // Scope auth first, so nothing else runs for a caller who may not call the field.
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: async (ctx) => ({ operator: ctx.principal?.kind === 'apiKey', endUser: ctx.principal?.kind === 'endUser' }),
    // Known caller, wrong kind (a widget calling an operator field): FORBIDDEN, not UNAUTHENTICATED.
    unauthorizedError: (_parent, ctx) =>
      ctx.principal ? forbidden(ctx.principal.kind === 'endUser' ? 'This field needs an API key' : 'This field is for end users (widget credentials)') : unauthenticated(),
  },
  prisma: {
    client: () => prisma(),
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === 'production' ? null : 'warn',
  },
  relay: {
    // Herald's ids are the ids clients store (uuids, externalIds, NP6 ints): no global ids.
    clientMutationId: 'omit',
    cursorType: 'String',
  },
  validation: {
    validationError: (result) => badInput(issuesFrom(result.issues)),
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.addScalarType('JSON', JSONResolver);

builder.queryType({});
builder.mutationType({});
