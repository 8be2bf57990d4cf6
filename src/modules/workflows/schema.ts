import { IANAZone } from 'luxon';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import { builder } from '../../graphql/builder.ts';
import { connectionArgs, pageById } from '../../graphql/connections.ts';
import { requireProjectId } from '../../graphql/principal.ts';
import type { WorkflowRunEvent } from '../../realtime/pubsub.ts';
import { isUuid } from '../users/service.ts';
import { cancelWorkflowRuns, getWorkflowRun, runSteps, runWhere, setDefaultTimezone, type StepView } from './service.ts';

const auth = { operator: true } as const;

const RunStatus = builder.enumType('WorkflowRunStatus', { values: ['WAITING', 'RUNNING', 'COMPLETED', 'CANCELED', 'THROTTLED', 'MERGED', 'FAILED'] as const });
const StepStatus = builder.enumType('WorkflowStepStatus', {
  values: ['PENDING', 'RUNNING', 'WAITING', 'DONE', 'SKIPPED', 'THROTTLED', 'MERGED', 'CANCELED', 'FAILED'] as const,
});

const StepMessage = builder.objectRef<StepView['messages'][number]>('WorkflowStepMessage').implement({
  fields: (t) => ({ id: t.exposeID('id'), status: t.exposeString('status'), channel: t.exposeString('channel') }),
});
const StepDigest = builder.objectRef<NonNullable<StepView['digest']>>('WorkflowDigest').implement({
  description: 'The digest a DIGEST step opened or joined.',
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key', { description: 'The rendered key.' }),
    count: t.exposeInt('count', { description: 'Events joined so far (all of them, past the events kept).' }),
    closedAt: t.expose('closedAt', { type: 'DateTime', nullable: true }),
    events: t.field({ type: ['JSON'], description: 'The data of the first events (at most 100 kept), in order.', resolve: (d) => d.events as never }),
    inboxItemId: t.exposeID('inboxItemId', {
      nullable: true,
      description: "The digest's live in-app item (shown from its first event, updated as it fills, finalised by the IN_APP step at the close); null when the workflow has none (README \"Workflows\").",
    }),
  }),
});
const RunStep = builder.objectRef<StepView>('WorkflowRunStep').implement({
  fields: (t) => ({
    index: t.exposeInt('index'),
    kind: t.exposeString('kind'),
    status: t.field({ type: StepStatus, resolve: (s) => s.status as never }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it was skipped, throttled, merged, or what it waits for.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    resumeAt: t.expose('resumeAt', { type: 'DateTime', nullable: true }),
    messages: t.field({ type: [StepMessage], resolve: (s) => s.messages }),
    digest: t.field({ type: StepDigest, nullable: true, resolve: (s) => s.digest }),
  }),
});

builder.prismaObject('WorkflowRun', {
  description: "One recipient's pass through a notification's workflow.",
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: RunStatus, resolve: (r) => r.status }),
    notificationId: t.exposeInt('notificationId'),
    userId: t.exposeID('userId', { description: "The user's Herald id." }),
    transactionId: t.exposeString('transactionId', { nullable: true, description: "The client's id (Notifuse `id`, sendMessages `id`)." }),
    source: t.exposeString('source'),
    reason: t.exposeString('reason', { nullable: true }),
    cursor: t.exposeInt('cursor', { description: 'Index of the next step.' }),
    dueAt: t.expose('dueAt', { type: 'DateTime', nullable: true, description: 'When a waiting run goes on.' }),
    data: t.field({ type: 'JSON', resolve: (r) => r.data as never }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    steps: t.field({ type: [RunStep], resolve: (r) => runSteps(r) }),
  }),
});

const RunFilter = builder.inputType('WorkflowRunFilter', {
  fields: (t) => ({
    notificationId: t.int(),
    userId: t.string({ description: "A user's Herald id or externalId." }),
    status: t.field({ type: RunStatus }),
    transactionId: t.string(),
  }),
});

builder.queryFields((t) => ({
  workflowRuns: t.prismaConnection({
    type: 'WorkflowRun',
    cursor: 'id',
    description: 'Workflow runs of the project, newest first.',
    authScopes: auth,
    maxSize: 200,
    defaultSize: 50,
    args: { filter: t.arg({ type: RunFilter }) },
    validate: connectionArgs('uuid'),
    totalCount: (_c, args, ctx) => prisma().workflowRun.count({ where: runWhere(requireProjectId(ctx), args.filter) }),
    resolve: (query, _r, args, ctx) => {
      const page = pageById(query, 'desc');
      return prisma().workflowRun.findMany({ ...page.query, where: { AND: [runWhere(requireProjectId(ctx), args.filter), page.where] }, orderBy: { id: 'desc' } });
    },
  }),
  workflowRun: t.prismaField({
    type: 'WorkflowRun',
    description: 'One run with its steps. Unknown or another project\'s → NOT_FOUND.',
    authScopes: auth,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, args, ctx) => getWorkflowRun(requireProjectId(ctx), String(args.id)),
  }),
}));

builder.mutationFields((t) => ({
  cancelWorkflowRuns: t.int({
    description: 'Cancels the unfinished workflow runs started with this client id (Notifuse `id`); answers how many.',
    authScopes: auth,
    args: { transactionId: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) =>
      cancelWorkflowRuns(requireProjectId(ctx), args.transactionId, (runId) =>
        ctx.pubsub.publish('workflowRun', runId, { runId, projectId: requireProjectId(ctx), index: -1, status: 'CANCELED', at: new Date().toISOString() }),
      ),
  }),
  setWorkflowDefaultTimezone: t.string({
    description: "The project's time zone for DELAY windows of users without one (IANA, e.g. \"Europe/Paris\"; default UTC).",
    authScopes: auth,
    args: { timezone: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => setDefaultTimezone(requireProjectId(ctx), args.timezone.trim(), (zone) => IANAZone.isValidZone(zone)),
  }),
}));

const RunEvent = builder.objectRef<WorkflowRunEvent>('WorkflowRunEvent').implement({
  fields: (t) => ({
    runId: t.exposeID('runId'),
    index: t.exposeInt('index', { description: 'The step that changed (-1: the run itself, e.g. canceled).' }),
    status: t.exposeString('status'),
    at: t.exposeString('at'),
  }),
});

builder.subscriptionField('workflowRun', (t) =>
  t.field({
    type: RunEvent,
    description: "Each step change of one run of the project (operators). Unknown or another project's run → NOT_FOUND.",
    authScopes: auth,
    args: { id: t.arg.id({ required: true, validate: z.string().refine(isUuid, 'must be a workflow run id (uuid)') }) },
    subscribe: async (_r, args, ctx) => {
      const run = await getWorkflowRun(requireProjectId(ctx), String(args.id));
      return ctx.pubsub.subscribe('workflowRun', run.id, { filter: (e) => e.projectId === run.projectId });
    },
    resolve: (event) => event,
  }),
);
