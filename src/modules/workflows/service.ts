import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma, rawQuery } from '../../db/client.ts';
import type { AcceptContext, MessageDraft } from '../../delivery/accept.ts';
import type { Prisma, PrismaClient, WorkflowRun } from '../../generated/prisma/client.ts';
import { badInput, notFound } from '../../graphql/errors.ts';
import { clock } from './clock.ts';

/** Where a statement runs: the caller's transaction, or the client for a statement alone. */
type Db = Prisma.TransactionClient | PrismaClient;

/** What starting runs needs of the engine: a wake-up after the commit (the sweep is the fallback). */
export interface WorkflowWaker {
  wake(runIds: string[]): Promise<void>;
}

/** A run's stored draft of a channel: the message it will write, minus the bookkeeping. */
export type StoredDraft = Omit<MessageDraft, 'workflow' | 'channel'>;

/**
 * The drafts of one accept, one group per run: a recipient of a notification (one draft per
 * channel), kept apart by client id and NP6 execution.
 */
export function groupRunDrafts(drafts: MessageDraft[]): MessageDraft[][] {
  const groups = new Map<string, MessageDraft[]>();
  for (const d of drafts) {
    const key = `${d.notificationId}|${d.userId}|${d.externalId ?? ''}|${d.executionId ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  return [...groups.values()];
}

/**
 * THE entry of every send into workflows: one run per group of drafts (a recipient of a
 * notification that has a workflow), written in ONE statement whatever the number of groups,
 * in the caller's transaction when it gives one. The run keeps each channel's draft (the
 * content rendered at trigger time: overrides, NP6 urgency, callbacks...) for its CHANNEL
 * steps. The client id (draft.externalId: Notifuse `id`, GraphQL `id`) identifies the run;
 * a taken one answers null for that group (the unique index decides, as for messages). The
 * runs are due now: after the commit, wakeStartedRuns(waker, ctx) hands them to the engine
 * (without it the engine's sweep finds them). Answers each group's run id, or null.
 */
export async function startRuns(db: Db, ctx: AcceptContext, groups: MessageDraft[][]): Promise<(string | null)[]> {
  const now = new Date();
  const rows = groups.map((drafts, i) => {
    const first = drafts[0]!;
    const byChannel: Record<string, StoredDraft> = {};
    for (const { workflow: _w, channel, ...rest } of drafts) byChannel[channel] = { ...rest, externalId: null, scheduledAt: null };
    return {
      i,
      id: uuidv7(),
      notificationId: first.notificationId,
      versionId: first.versionId,
      userId: first.userId,
      transactionId: first.externalId ?? null,
      steps: first.workflow,
      data: first.data ?? {},
      drafts: byChannel,
    };
  });
  if (rows.length === 0) return [];
  const sql = `
    INSERT INTO "WorkflowRun" (id, "projectId", "notificationId", "versionId", "userId", "transactionId", source, "requestId", "maxAttempts",
      status, steps, cursor, "dueAt", data, drafts, "createdAt", "updatedAt")
    SELECT r.id, $1::uuid, r."notificationId", r."versionId", r."userId", r."transactionId", $2::text, $3::text, $4::int,
      'WAITING'::"WorkflowRunStatus", r.steps, 0, $5::timestamp(3), r.data, r.drafts, $6::timestamp(3), $6::timestamp(3)
    FROM jsonb_to_recordset($7::jsonb) AS r(i int, id uuid, "notificationId" int, "versionId" uuid, "userId" uuid, "transactionId" text,
      steps jsonb, data jsonb, drafts jsonb)
    ORDER BY r.i
    ON CONFLICT ("projectId", "transactionId") DO NOTHING
    RETURNING id::text`;
  const params = [ctx.projectId, ctx.source, ctx.requestId, ctx.maxAttempts, clock.now().toISOString(), now.toISOString(), JSON.stringify(rows)];
  const inserted = db === prisma() ? await rawQuery<{ id: string }>(sql, params) : await db.$queryRawUnsafe<{ id: string }[]>(sql, ...params);
  const ids = new Set(inserted.map((r) => r.id));
  ctx.startedRuns = [...(ctx.startedRuns ?? []), ...ids];
  return rows.map((r) => (ids.has(r.id) ? r.id : null));
}

/** After the accept's commit: wakes the runs it started (a failure is left to the sweep). */
export async function wakeStartedRuns(waker: WorkflowWaker | undefined, ctx: AcceptContext): Promise<void> {
  const ids = ctx.startedRuns ?? [];
  ctx.startedRuns = [];
  if (ids.length && waker) await waker.wake(ids).catch(() => {});
}

const TERMINAL_RUN = ['COMPLETED', 'CANCELED', 'THROTTLED', 'MERGED', 'FAILED'];
export const isTerminalRun = (status: string) => TERMINAL_RUN.includes(status);

/**
 * Cancels the runs of a client id that have not finished: what they have not done yet will
 * not happen (messages already written go their way). A digest such a run leads is closed
 * undelivered, so the next trigger starts a fresh one. Answers how many runs it canceled.
 */
export async function cancelWorkflowRuns(projectId: string, transactionId: string, publish?: (runId: string) => void): Promise<number> {
  const id = transactionId.trim();
  if (!id || id.length > 256) throw badInput([{ field: 'transactionId', message: 'must be 1-256 characters' }]);
  const canceled = await prisma().$transaction(async (tx) => {
    const runs = await tx.$queryRaw<{ id: string }[]>`
      UPDATE "WorkflowRun" SET status = 'CANCELED', reason = 'canceled by cancelWorkflowRuns', "finishedAt" = now(), "leaseUntil" = NULL, "updatedAt" = now()
      WHERE "projectId" = ${projectId}::uuid AND "transactionId" = ${id} AND status IN ('WAITING', 'RUNNING')
      RETURNING id::text`;
    const ids = runs.map((r) => r.id);
    if (ids.length) {
      await tx.$executeRaw`UPDATE "WorkflowStepState" SET status = 'CANCELED', reason = 'run canceled', "finishedAt" = now()
        WHERE "runId" = ANY(${ids}::uuid[]) AND status IN ('WAITING', 'RUNNING')`;
      await tx.$executeRaw`UPDATE "WorkflowDigest" SET "openKey" = NULL, "closedAt" = now() WHERE "runId" = ANY(${ids}::uuid[]) AND "openKey" IS NOT NULL`;
    }
    return ids;
  });
  for (const runId of canceled) publish?.(runId);
  return canceled.length;
}

export async function getWorkflowRun(projectId: string, id: string): Promise<WorkflowRun> {
  const run = z.uuid().safeParse(id).success ? await prisma().workflowRun.findFirst({ where: { id, projectId } }) : null;
  if (!run) throw notFound('WorkflowRun', id);
  return run;
}

export interface RunFilter {
  notificationId?: number | null;
  userId?: string | null;
  status?: string | null;
  transactionId?: string | null;
}

export function runWhere(projectId: string, filter: RunFilter | null | undefined): Prisma.WorkflowRunWhereInput {
  const userId = filter?.userId ?? null;
  return {
    projectId,
    ...(filter?.notificationId != null ? { notificationId: filter.notificationId } : {}),
    // A user's Herald id (uuid) or externalId.
    ...(userId != null ? (z.uuid().safeParse(userId).success ? { OR: [{ userId }, { user: { externalId: userId } }] } : { user: { externalId: userId } }) : {}),
    ...(filter?.status != null ? { status: filter.status as never } : {}),
    ...(filter?.transactionId != null ? { transactionId: filter.transactionId } : {}),
  };
}

export interface StepView {
  index: number;
  kind: string;
  status: string;
  reason: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  resumeAt: Date | null;
  messages: { id: string; status: string; channel: string }[];
  digest: { id: string; count: number; key: string; closedAt: Date | null; events: unknown[]; inboxItemId: string | null } | null;
}

/** Every step of a run, with its state (PENDING: not reached yet), message and digest. One query. */
export async function runSteps(run: Pick<WorkflowRun, 'id' | 'steps'>): Promise<StepView[]> {
  const rows = await prisma().$queryRaw<
    { index: number; kind: string; status: string; reason: string | null; startedAt: Date; finishedAt: Date | null; resumeAt: Date | null; messageId: string | null; messageStatus: string | null; channel: string | null; digestId: string | null; count: number | null; key: string | null; closedAt: Date | null; events: unknown[] | null; inboxItemId: string | null }[]
  >`
    SELECT s.index, s.kind::text, s.status::text, s.reason, s."startedAt", s."finishedAt", s."resumeAt", s."messageId"::text, m.status::text AS "messageStatus", m.channel::text,
      s."digestId"::text, d.count, d.key, d."closedAt", d.events, d."inboxItemId"::text
    FROM "WorkflowStepState" s
    LEFT JOIN "Message" m ON m.id = s."messageId"
    LEFT JOIN "WorkflowDigest" d ON d.id = s."digestId"
    WHERE s."runId" = ${run.id}::uuid ORDER BY s.index`;
  const byIndex = new Map(rows.map((r) => [r.index, r]));
  const steps = (run.steps ?? []) as { kind: string }[];
  return steps.map((step, index): StepView => {
    const r = byIndex.get(index);
    return {
      index,
      kind: step.kind,
      status: r?.status ?? 'PENDING',
      reason: r?.reason ?? null,
      startedAt: r?.startedAt ?? null,
      finishedAt: r?.finishedAt ?? null,
      resumeAt: r?.resumeAt ?? null,
      messages: r?.messageId ? [{ id: r.messageId, status: r.messageStatus ?? 'UNKNOWN', channel: r.channel ?? '' }] : [],
      digest: r?.digestId ? { id: r.digestId, count: r.count ?? 0, key: r.key ?? '', closedAt: r.closedAt, events: r.events ?? [], inboxItemId: r.inboxItemId } : null,
    };
  });
}

/** Sets the project's default time zone for DELAY windows (IANA name, e.g. "Europe/Paris"). */
export async function setDefaultTimezone(projectId: string, timezone: string, valid: (zone: string) => boolean): Promise<string> {
  if (!valid(timezone)) throw badInput([{ field: 'timezone', message: `${JSON.stringify(timezone)} is not an IANA time zone (e.g. "Europe/Paris")` }]);
  await prisma().project.update({ where: { id: projectId }, data: { defaultTimezone: timezone } });
  return timezone;
}
