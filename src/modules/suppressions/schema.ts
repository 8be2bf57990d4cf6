import { prisma } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import { addSuppression, normalizeAddress, removeSuppression, SUPPRESSIBLE } from './service.ts';

const auth = { operator: true } as const;

const Suppression = builder.prismaObject('Suppression', {
  description: 'An address no message is sent to: sends to it are recorded SKIPPED with the reason.',
  fields: (t) => ({
    id: t.exposeID('id'),
    channel: t.exposeString('channel'),
    address: t.exposeString('address', { description: 'Emails lower-cased, numbers in E.164.' }),
    reason: t.exposeString('reason'),
    source: t.exposeString('source', { description: '"manual" (addSuppression), or the receipt webhook that added it: sendgrid, mailgun, twilio.' }),
    messageId: t.exposeID('messageId', { nullable: true, description: 'The message whose receipt added it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const SuppressionFilter = builder.inputType('SuppressionFilter', {
  fields: (t) => ({
    channel: t.string({ description: SUPPRESSIBLE.join(', ') }),
    address: t.string({ description: 'This exact address (compared as stored: emails lower-cased).' }),
    source: t.string({ description: 'manual, sendgrid, mailgun, twilio' }),
  }),
});

const AddSuppressionInput = builder.inputType('AddSuppressionInput', {
  fields: (t) => ({
    channel: t.string({ required: true, description: SUPPRESSIBLE.join(', ') }),
    address: t.string({ required: true, description: 'An email address (EMAIL) or an E.164 number (SMS, WHATSAPP).' }),
    reason: t.string({ description: 'At most 500 characters; default "added by an operator".' }),
  }),
});

interface FilterArgs {
  channel?: string | null;
  address?: string | null;
  source?: string | null;
}

function suppressionWhere(projectId: string, filter: FilterArgs | null | undefined): Prisma.SuppressionWhereInput {
  const channel = filter?.channel;
  // An unknown channel matches nothing rather than failing the list (as the messages filter does).
  const known = channel == null || (SUPPRESSIBLE as readonly string[]).includes(channel);
  return {
    projectId,
    ...(channel != null ? (known ? { channel: channel as (typeof SUPPRESSIBLE)[number] } : { id: '00000000-0000-0000-0000-000000000000' }) : {}),
    ...(filter?.address != null ? { address: known && channel ? normalizeAddress(channel as (typeof SUPPRESSIBLE)[number], filter.address) : filter.address.trim().toLowerCase() } : {}),
    ...(filter?.source != null ? { source: filter.source } : {}),
  };
}

builder.queryField('suppressions', (t) =>
  t.prismaConnection({
    type: 'Suppression',
    cursor: 'id',
    description: 'Suppressed addresses of the project, oldest first.',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    args: { filter: t.arg({ type: SuppressionFilter }) },
    validate: connectionArgs('uuid'),
    totalCount: (_c, args, ctx) => prisma().suppression.count({ where: suppressionWhere(requireProjectId(ctx), args.filter) }),
    resolve: (query, _r, args, ctx) => {
      const page = pageById(query, 'asc');
      return prisma().suppression.findMany({ ...page.query, where: { AND: [suppressionWhere(requireProjectId(ctx), args.filter), page.where] }, orderBy: { id: 'asc' } });
    },
  }),
);

builder.mutationFields((t) => ({
  addSuppression: t.field({
    type: Suppression,
    description: 'Stops sends to an address: they are recorded SKIPPED. CONFLICT when it is already suppressed.',
    authScopes: auth,
    args: { input: t.arg({ type: AddSuppressionInput, required: true }) },
    resolve: (_r, args, ctx) => addSuppression(requireProjectId(ctx), args.input),
  }),
  removeSuppression: t.id({
    description: 'Sends to the address go out again; answers the id. NOT_FOUND for an id not of this project.',
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => removeSuppression(requireProjectId(ctx), String(args.id)),
  }),
}));
