import jsonLogic from 'json-logic-js';
import type { Logger } from 'pino';
import type { Config } from '../../config/env.ts';
import { prisma, rawQuery } from '../../db/client.ts';
import { acceptMessages, type AcceptContext, type MessageDraft } from '../../delivery/accept.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import type { JobQueue } from '../../delivery/queue.ts';
import type { Channel, Message, Prisma, User, WorkflowRun } from '../../generated/prisma/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { publishInboxEvents, type InboxEventMessage } from '../inbox/events.ts';
import { lookupForSend } from '../notifications/send-lookup.ts';
import { templateScope } from '../notifications/render.ts';
import { renderTemplate } from '../notifications/templates.ts';
import { clock } from './clock.ts';
import { finaliseLiveItem, liveInAppStep, liveMuted, LiveRefresher, renderDigestDraft, type DigestView } from './live-digest.ts';
import { DIGEST_EVENTS_CAP, type ChannelStep, type DelayStep, type DigestStep, type ThrottleStep, type WorkflowStep } from './model.ts';
import type { StoredDraft, WorkflowWaker } from './service.ts';
import { nextWindowOpening, untilInstant, zoneOf } from './timing.ts';
import { transaction, userFromJson, type Tx } from './sql.ts';

export const WORKFLOW_QUEUE = 'workflows';
/** Runs per wake-up job and per claim statement. */
const CLAIM_BATCH = 50;

interface WakeJob {
  runIds: string[];
}

/** The claim was lost (another engine re-claimed the run after our lease, or it was canceled): stop, write nothing. */
class ClaimLost extends Error {}

type Claimed = WorkflowRun & { _user: User | null; _defaultTimezone: string | null; _states: { index: number; status: string; resumeAt: string | null; digestId: string | null }[] };
interface StateRow {
  index: number;
  status: string;
  resumeAt: Date | null;
  digestId: string | null;
}

/** A step outcome the engine records; `effect` runs in the same transaction as the guard. */
interface Transition {
  status: 'DONE' | 'SKIPPED' | 'WAITING' | 'THROTTLED' | 'MERGED' | 'FAILED';
  reason?: string | null;
  resumeAt?: Date | null;
  messageId?: string | null;
  digestId?: string | null;
}

const iso = (d: Date) => d.toISOString();

/**
 * Executes workflow runs. A run is a row with a due time (dueAt); engines claim due runs in one
 * guarded UPDATE (WAITING and due, or RUNNING with an expired lease), bumping `attempts`, the
 * claim's token. Every step's effect (a message written, a digest joined or closed, a throttle
 * counted) commits in the SAME transaction as the guarded move of the run's cursor (WHERE
 * status = RUNNING AND attempts = token AND cursor = step), so a step happens once: a worker
 * that dies mid-step leaves nothing, and one whose lease ran out cannot write after the new
 * owner. Queue jobs only wake runs up: a BullMQ job per batch of new runs and one delayed job
 * per timer; the sweep (every RECONCILE_INTERVAL_MS) finds whatever a lost job or a crash left
 * due, so a dead Redis or worker delays runs but loses none.
 */
export class WorkflowEngine implements WorkflowWaker {
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Runs executing now in this process, and those waiting for a slot (WORKFLOW_CONCURRENCY). */
  private active = 0;
  private readonly slots: (() => void)[] = [];
  private sweeping: Promise<number> | undefined;
  private closed = false;
  private readonly live: LiveRefresher;

  constructor(
    private readonly deps: { config: Config; queue: JobQueue; delivery: Delivery; pubsub: HeraldPubSub; logger: Logger },
  ) {
    this.live = new LiveRefresher(deps);
  }

  /** Due now: one job per batch of runs. Delayed: one job per run, at its due time. */
  async wake(runIds: string[], dueAt?: Date): Promise<void> {
    if (runIds.length === 0) return;
    const delayMs = dueAt ? Math.max(0, dueAt.getTime() - clock.ms()) : 0;
    const jobs = [];
    for (let i = 0; i < runIds.length; i += CLAIM_BATCH) {
      const batch = runIds.slice(i, i + CLAIM_BATCH);
      jobs.push({ id: `w${batch.length}_${batch[0]}_${dueAt ? dueAt.getTime() : 'now'}`, data: { runIds: batch }, delayMs });
    }
    try {
      await this.deps.queue.add<WakeJob>(WORKFLOW_QUEUE, jobs, { attempts: 5, backoffMs: 1_000 });
    } catch (error) {
      this.deps.logger.warn({ err: error, count: runIds.length }, 'Could not queue workflow wake-ups; the sweep will find the runs');
    }
  }

  start(): void {
    this.deps.queue.process<WakeJob>(WORKFLOW_QUEUE, async (job) => void (await this.runMany(job.runIds)), { concurrency: this.deps.config.WORKFLOW_CONCURRENCY });
    this.sweepTimer = setInterval(() => void this.sweep(), this.deps.config.RECONCILE_INTERVAL_MS);
    this.sweepTimer.unref();
    void this.sweep();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.sweeping;
  }

  /**
   * The reconciler of workflows: runs due by the engine's clock (timers whose job was lost, runs
   * never woken) and RUNNING ones whose engine died (lease expired), executed here. Answers how
   * many it claimed. Tests call it after moving the clock.
   */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce()
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, 'Workflow sweep failed');
        return 0;
      })
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 20 && !this.closed; round++) {
      const due = await prisma().$queryRaw<{ id: string }[]>`
        SELECT id::text FROM "WorkflowRun"
        WHERE (status = 'WAITING' AND "dueAt" <= ${iso(clock.now())}::timestamp(3)) OR (status = 'RUNNING' AND "leaseUntil" < now())
        ORDER BY "dueAt" LIMIT 500`;
      if (due.length === 0) break;
      const claimed = await Promise.all(chunks(due.map((d) => d.id), CLAIM_BATCH).map((ids) => this.runMany(ids)));
      const n = claimed.reduce((a, b) => a + b, 0);
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  /** Claims these runs (those due) and executes each as far as it goes; answers how many it claimed. */
  async runMany(runIds: string[]): Promise<number> {
    if (runIds.length === 0) return 0;
    const leaseUntil = new Date(Date.now() + this.deps.config.DELIVERY_LEASE_MS);
    const claimed = await rawQuery<Claimed>(
      `WITH c AS (
         UPDATE "WorkflowRun" r SET status = 'RUNNING', attempts = r.attempts + 1, "leaseUntil" = $3::timestamp(3), "updatedAt" = now()
         WHERE r.id = ANY($1::uuid[]) AND ((r.status = 'WAITING' AND r."dueAt" <= $2::timestamp(3)) OR (r.status = 'RUNNING' AND r."leaseUntil" < now()))
         RETURNING r.*
       )
       SELECT c.*, to_jsonb(u) AS "_user", p."defaultTimezone" AS "_defaultTimezone",
         (SELECT coalesce(jsonb_agg(jsonb_build_object('index', s.index, 'status', s.status, 'resumeAt', s."resumeAt", 'digestId', s."digestId")), '[]'::jsonb)
          FROM "WorkflowStepState" s WHERE s."runId" = c.id) AS "_states"
       FROM c LEFT JOIN "User" u ON u.id = c."userId" LEFT JOIN "Project" p ON p.id = c."projectId"`,
      [runIds, iso(clock.now()), iso(leaseUntil)],
    );
    // WORKFLOW_CONCURRENCY at a time, started in id (trigger) order. Runs of one digest serialize on its row
    // anyway; a user's runs of different keys need not wait for each other.
    const queue = claimed.sort((a, b) => (a.id < b.id ? -1 : 1));
    const lane = async () => {
      for (let run = queue.shift(); run; run = queue.shift()) {
        // One slot per executing run across the process: jobs, the sweep and digest closes share them.
        if (this.active >= this.deps.config.WORKFLOW_CONCURRENCY) await new Promise<void>((resolve) => this.slots.push(resolve));
        this.active++;
        try {
          await this.execute(run);
        } finally {
          this.active--;
          this.slots.shift()?.();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(queue.length, this.deps.config.WORKFLOW_CONCURRENCY) }, lane));
    return claimed.length;
  }

  private publish(run: Pick<WorkflowRun, 'id' | 'projectId'>, index: number, status: string): void {
    this.deps.pubsub.publish('workflowRun', run.id, { runId: run.id, projectId: run.projectId, index, status, at: new Date().toISOString() });
  }

  /** Runs the claimed run's steps until it waits, ends, or loses its claim. */
  private async execute(claimed: Claimed): Promise<void> {
    const run = claimed;
    const user = userFromJson(claimed._user);
    const steps = run.steps as unknown as WorkflowStep[];
    try {
      // The step states as the claim read them (a waiting step's resumeAt and digest).
      const states = new Map<number, StateRow>(
        claimed._states.map((x) => [x.index, { index: x.index, status: x.status, digestId: x.digestId, resumeAt: x.resumeAt ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(x.resumeAt) ? x.resumeAt : `${x.resumeAt}Z`) : null }]),
      );
      while (run.cursor < steps.length) {
        const index = run.cursor;
        const step = steps[index]!;
        const state = states.get(index);
        if (!state && step.condition !== undefined && step.condition !== null) {
          const scope = await this.scope(run, user);
          let pass: boolean;
          try {
            pass = jsonLogic.truthy(jsonLogic.apply(step.condition as never, scope));
          } catch (error) {
            await this.step(run, index, step, { status: 'FAILED', reason: `condition failed: ${(error as Error).message}` }, 'FAILED');
            return;
          }
          if (!pass) {
            await this.step(run, index, step, { status: 'SKIPPED', reason: `condition ${JSON.stringify(step.condition).slice(0, 200)} is false` });
            continue;
          }
        }
        let go: boolean;
        switch (step.kind) {
          case 'CHANNEL':
            go = await this.channel(run, user, index, step);
            break;
          case 'DELAY':
            go = await this.delay(run, user, index, step, state);
            break;
          case 'DIGEST':
            go = await this.digest(run, user, index, step, state);
            break;
          case 'THROTTLE':
            go = await this.throttle(run, user, index, step);
            break;
        }
        if (!go) return;
      }
      await this.finish(run, 'COMPLETED', null);
    } catch (error) {
      if (error instanceof ClaimLost) {
        this.deps.logger.info({ runId: run.id }, 'Workflow run claim lost (canceled or re-claimed); this attempt stops');
        return;
      }
      // Infrastructure (database down...): the lease runs out and the sweep retries the step.
      this.deps.logger.warn({ err: error, runId: run.id, step: run.cursor }, 'Workflow step failed; retried after the lease');
    }
  }

  private async states(runId: string): Promise<Map<number, StateRow>> {
    const rows = await prisma().workflowStepState.findMany({ where: { runId }, select: { index: true, status: true, resumeAt: true, digestId: true } });
    return new Map(rows.map((r) => [r.index, r]));
  }

  /**
   * The guard of every transition: the run is still ours (RUNNING, same claim token) and at this
   * step. Locks the run row for the rest of the transaction.
   */
  private async guard(tx: Tx, run: WorkflowRun, index: number, set: string, params: unknown[] = []): Promise<void> {
    const n = await tx.execute(
      `UPDATE "WorkflowRun" SET ${set}, "updatedAt" = now() WHERE id = $1::uuid AND status = 'RUNNING' AND attempts = $2 AND cursor = $3`,
      run.id,
      run.attempts,
      index,
      ...params,
    );
    if (n !== 1) throw new ClaimLost();
  }

  /**
   * guard() and writeState() as ONE statement (a data-modifying CTE): the state row is written
   * only if the guard matched, so a lost claim writes nothing (and the caller's transaction rolls
   * back its effect). One round trip per transition instead of two.
   */
  private async commit(tx: Tx, run: WorkflowRun, index: number, set: string, params: unknown[], kind: string, t: Transition): Promise<void> {
    const b = 3 + params.length;
    const p = (k: number) => `$${b + k}`;
    const finished = t.status === 'WAITING' ? null : iso(new Date());
    const n = await tx.execute(
      `WITH g AS (
         UPDATE "WorkflowRun" SET ${set}, "updatedAt" = now() WHERE id = $1::uuid AND status = 'RUNNING' AND attempts = $2 AND cursor = $3 RETURNING id
       )
       INSERT INTO "WorkflowStepState" ("runId", index, kind, status, reason, "startedAt", "finishedAt", "resumeAt", "messageId", "digestId")
       SELECT g.id, $3, ${p(1)}::"WorkflowStepKind", ${p(2)}::"WorkflowStepStatus", ${p(3)}, now(), ${p(4)}::timestamp(3), ${p(5)}::timestamp(3), ${p(6)}::uuid, ${p(7)}::uuid FROM g
       ON CONFLICT ("runId", index) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason, "finishedAt" = EXCLUDED."finishedAt",
         "resumeAt" = coalesce(EXCLUDED."resumeAt", "WorkflowStepState"."resumeAt"), "messageId" = coalesce(EXCLUDED."messageId", "WorkflowStepState"."messageId"),
         "digestId" = coalesce(EXCLUDED."digestId", "WorkflowStepState"."digestId")`,
      run.id,
      run.attempts,
      index,
      ...params,
      kind,
      t.status,
      t.reason ?? null,
      finished,
      t.resumeAt ? iso(t.resumeAt) : null,
      t.messageId ?? null,
      t.digestId ?? null,
    );
    if (n !== 1) throw new ClaimLost();
  }

  /**
   * Records a step's outcome and moves on (DONE, SKIPPED), or ends the run (terminal: THROTTLED,
   * MERGED, FAILED), with `effect` in the same transaction.
   */
  private async step(run: WorkflowRun, index: number, step: WorkflowStep, t: Transition, endRun?: 'THROTTLED' | 'MERGED' | 'FAILED', effect?: (tx: Tx) => Promise<Partial<Transition>>): Promise<void> {
    await transaction(async (tx) => {
      // The effect first (rolled back with the transaction when the claim turns out lost).
      const more = (await effect?.(tx)) ?? {};
      if (endRun) await this.commit(tx, run, index, `status = $4::"WorkflowRunStatus", "finishedAt" = now(), "leaseUntil" = NULL, reason = $5`, [endRun, t.reason ?? null], step.kind, { ...t, ...more });
      else await this.commit(tx, run, index, `cursor = $4`, [index + 1], step.kind, { ...t, ...more });
    });
    if (!endRun) run.cursor = index + 1;
    this.publish(run, index, t.status);
  }

  /** The run waits for `until` at this step (DELAY, DIGEST): a row with a due time, and a delayed wake-up. */
  private async pause(run: WorkflowRun, index: number, step: WorkflowStep, until: Date, t: Transition, effect?: (tx: Tx) => Promise<void>): Promise<void> {
    await transaction(async (tx) => {
      await effect?.(tx);
      await this.commit(tx, run, index, `status = 'WAITING', "dueAt" = $4::timestamp(3), "leaseUntil" = NULL`, [iso(until)], step.kind, { ...t, status: 'WAITING', resumeAt: until });
    });
    this.publish(run, index, 'WAITING');
    await this.wake([run.id], until);
  }

  private async finish(run: WorkflowRun, status: 'COMPLETED', reason: string | null): Promise<void> {
    await transaction(async (tx) => {
      await this.guard(tx, run, run.cursor, `status = $4::"WorkflowRunStatus", "finishedAt" = now(), "leaseUntil" = NULL, reason = $5`, [status, reason]);
    });
    this.publish(run, run.cursor, status);
  }

  /** What conditions see: data, user, preferences, steps.N (state, message, in-app read state), digest. */
  private async scope(run: WorkflowRun, user: User | null): Promise<Record<string, unknown>> {
    const rows = await prisma().$queryRaw<
      { index: number; kind: string; status: string; reason: string | null; messageId: string | null; messageStatus: string | null; deliveredAt: Date | null; readAt: Date | null; seenAt: Date | null; archivedAt: Date | null }[]
    >`
      SELECT s.index, s.kind::text, s.status::text, s.reason, s."messageId"::text, m.status::text AS "messageStatus", m."deliveredAt", i."readAt", i."seenAt", i."archivedAt"
      FROM "WorkflowStepState" s LEFT JOIN "Message" m ON m.id = s."messageId" LEFT JOIN "InboxItem" i ON i."messageId" = s."messageId"
      WHERE s."runId" = ${run.id}::uuid`;
    const steps: Record<string, unknown> = {};
    const at = (d: Date | null) => (d ? d.toISOString() : null);
    for (const r of rows) {
      steps[String(r.index)] = { kind: r.kind, status: r.status, reason: r.reason, messageId: r.messageId, messageStatus: r.messageStatus, deliveredAt: at(r.deliveredAt), readAt: at(r.readAt), seenAt: at(r.seenAt), archivedAt: at(r.archivedAt) };
    }
    const digest = await this.digestOf(run);
    const profile = user ? (templateScope({ notification: { id: run.notificationId, key: null, name: '', type: '' } as never, user, data: {} }).user as Record<string, unknown>) : {};
    const digestScope = digest ? { count: digest.count, events: digest.events, key: digest.key } : null;
    return { data: run.data ?? {}, user: profile, preferences: user?.preferences ?? {}, steps, digest: digestScope };
  }

  private async digestOf(run: WorkflowRun): Promise<(DigestView & { stepIndex: number; inboxItemId: string | null }) | null> {
    if (!run.digestId) return null;
    const d = await prisma().workflowDigest.findUnique({ where: { id: run.digestId }, select: { count: true, events: true, key: true, stepIndex: true, inboxItemId: true } });
    return d ? { count: d.count, events: d.events as unknown[], key: d.key, stepIndex: d.stepIndex, inboxItemId: d.inboxItemId } : null;
  }

  /** A Liquid key/time of a step, rendered over the trigger's data and user (and the digest, after one). */
  private async render(run: WorkflowRun, user: User | null, source: string, field: string): Promise<string> {
    const data = { ...((run.data as Record<string, unknown>) ?? {}) };
    return renderTemplate(source, 'text', { ...templateScope({ notification: { id: run.notificationId, key: null, name: '', type: '' } as never, user, data }) }, field);
  }

  // ---------- step kinds ----------

  /**
   * CHANNEL: the message of that channel, through the same accept and dispatch as a plain send
   * (preferences, critical bypass, failover and retries apply at delivery). Written in the
   * step's transaction: exactly one message per step. After a digest the content is rendered
   * again with `digest` (count, events) in the template scope.
   */
  private async channel(run: WorkflowRun, user: User | null, index: number, step: ChannelStep): Promise<boolean> {
    const stored = (run.drafts as Record<string, StoredDraft>)[step.channel];
    if (!stored) {
      await this.step(run, index, step, { status: 'SKIPPED', reason: `no ${step.channel} content for this trigger (the channel was narrowed or removed)` });
      return true;
    }
    let draft: MessageDraft = { ...stored, channel: step.channel as Channel };
    const digest = run.digestId ? await this.digestOf(run) : null;
    // The digest's live in-app item, if this is the step it stands for: finalised, not written again.
    const live = digest?.inboxItemId && step.channel === 'IN_APP' && liveInAppStep(run.steps as unknown as WorkflowStep[], digest.stepIndex) === index ? digest.inboxItemId : null;
    let muted: string | null = null;
    if (digest) {
      const rendered = await renderDigestDraft(run, user, step.channel as Channel, stored, digest, this.deps.logger);
      if (rendered) draft = rendered.draft;
      if (live && user) muted = await liveMuted(user, draft, rendered?.notificationKey ?? (await lookupForSend(run.projectId, run.notificationId))?.notification.key ?? null);
    }
    const ctx: AcceptContext = { projectId: run.projectId, requestId: run.requestId, source: run.source as AcceptContext['source'], maxAttempts: run.maxAttempts };
    let written: Message[] = [];
    let inboxEvents: InboxEventMessage[] = [];
    await this.step(run, index, step, { status: 'DONE', reason: null }, undefined, async (tx) => {
      written = await acceptMessages(tx.prismaTx, ctx, [draft]);
      const m = written[0];
      if (m && live) inboxEvents = await finaliseLiveItem(tx, m, live, digest!.count, m.status !== 'SKIPPED' && !muted);
      return m ? { messageId: m.id, reason: m.status === 'SKIPPED' ? `message skipped: ${m.lastError}` : null } : {};
    });
    publishInboxEvents(this.deps.pubsub, inboxEvents);
    const message = written[0];
    if (message) {
      this.deps.delivery.publishAccepted([message]);
      if (message.status !== 'SKIPPED') await this.deps.delivery.dispatch([message]);
    }
    return true;
  }

  /** DELAY: seconds from the step's start, a time from the data (until + offset), or the next local window opening. */
  private async delay(run: WorkflowRun & { _defaultTimezone?: string | null }, user: User | null, index: number, step: DelayStep, state: StateRow | undefined): Promise<boolean> {
    const now = clock.now();
    if (state?.status === 'WAITING' && state.resumeAt) {
      if (state.resumeAt <= now) {
        await this.step(run, index, step, { status: 'DONE', reason: 'waited until ' + state.resumeAt.toISOString() });
        return true;
      }
      await this.pause(run, index, step, state.resumeAt, { status: 'WAITING', reason: state.resumeAt.toISOString() });
      return false;
    }
    let until: Date;
    let reason: string;
    if (step.seconds != null) {
      until = new Date(now.getTime() + step.seconds * 1000);
      reason = `${step.seconds} s`;
    } else if (step.until != null) {
      let text: string;
      try {
        text = await this.render(run, user, step.until, `workflow.${index}.until`);
      } catch (error) {
        await this.step(run, index, step, { status: 'SKIPPED', reason: `until did not render: ${(error as Error).message}` });
        return true;
      }
      const at = untilInstant(text, step.offsetSeconds);
      if (!at) {
        await this.step(run, index, step, { status: 'SKIPPED', reason: `until rendered ${JSON.stringify(text.slice(0, 100))}, not a time: no wait` });
        return true;
      }
      until = at;
      reason = `until ${at.toISOString()}`;
    } else {
      const zone = zoneOf(user?.timezone, run._defaultTimezone);
      until = nextWindowOpening(now, zone, step.window!);
      reason = `window ${step.window!.start}-${step.window!.end} ${zone}`;
    }
    if (until <= now) {
      await this.step(run, index, step, { status: 'DONE', reason: `${reason}: already due` });
      return true;
    }
    await this.pause(run, index, step, until, { status: 'WAITING', reason });
    return false;
  }

  /**
   * DIGEST. First visit: the trigger joins the open digest of (notification, user, rendered key)
   * or opens it, in one INSERT ... ON CONFLICT on the unique (notificationId, userId, stepIndex, openKey)
   * (openKey is null once closed), so concurrent triggers make exactly one digest and count
   * exactly. The opener's run waits for the close; a joiner's run ends MERGED. Woken: the
   * opener closes it (UPDATE ... WHERE open AND due: once, even with two engines) and goes on
   * with digest.count / digest.events in scope; a SLIDING digest that moved waits again.
   */
  private async digest(run: WorkflowRun, user: User | null, index: number, step: DigestStep, state: StateRow | undefined): Promise<boolean> {
    const now = clock.now();
    if (state?.status === 'WAITING' && state.digestId) {
      const digestId = state.digestId;
      let closed: { count: number } | undefined;
      let still: { closeAt: Date; open: boolean } | undefined;
      await transaction(async (tx) => {
          [closed] = await tx.query<{ count: number }>(
            `UPDATE "WorkflowDigest" SET "openKey" = NULL, "closedAt" = $2::timestamp(3)
             WHERE id = $1::uuid AND "openKey" IS NOT NULL AND "closeAt" <= $2::timestamp(3)
             RETURNING count`,
            digestId,
            iso(now),
          );
          if (!closed) {
            const [d] = await tx.query<{ closeAt: Date; open: boolean }>(`SELECT "closeAt", "openKey" IS NOT NULL AS open FROM "WorkflowDigest" WHERE id = $1::uuid`, digestId);
            still = d;
            if (d?.open) throw new NotYet();
          }
          await this.commit(tx, run, index, `cursor = $4, "digestId" = $5::uuid`, [index + 1, digestId], step.kind, { status: 'DONE', reason: closed ? `closed with ${closed.count} events` : 'digest already closed', digestId });
        })
        .catch((error: unknown) => {
          if (!(error instanceof NotYet)) throw error;
        });
      if (still?.open) {
        await this.pause(run, index, step, still.closeAt, { status: 'WAITING', reason: 'window extended', digestId });
        return false;
      }
      run.cursor = index + 1;
      run.digestId = digestId;
      this.publish(run, index, 'DONE');
      return true;
    }

    let key: string;
    try {
      key = step.key ? (await this.render(run, user, step.key, `workflow.${index}.key`)).trim() : '';
    } catch (error) {
      await this.step(run, index, step, { status: 'FAILED', reason: `key did not render: ${(error as Error).message}` }, 'FAILED');
      return false;
    }
    const cap = Math.min(DIGEST_EVENTS_CAP, step.maxEvents ?? DIGEST_EVENTS_CAP);
    const windowMs = step.windowSeconds * 1000;
    const maxWaitMs = (step.maxWaitSeconds ?? step.windowSeconds) * 1000;
    const sliding = step.mode === 'SLIDING';
    const firstClose = new Date(now.getTime() + windowMs);
    // Runs execute WORKFLOW_CONCURRENCY at a time, so triggers can join out of order: the events are kept
    // in trigger order by their run's id (UUIDv7, time-ordered; in a batch, the items' order).
    const event = JSON.stringify([{ ...((run.data as object) ?? {}), _at: iso(now), _runId: run.id }]);
    let outcome: { id: string; runId: string; count: number; closeAt: Date; inserted: boolean } | undefined;
    let wakeLeader = false;
    await transaction(async (tx) => {
      [outcome] = await tx.query<NonNullable<typeof outcome>>(
        `INSERT INTO "WorkflowDigest" AS d (id, "projectId", "notificationId", "userId", key, "openKey", "stepIndex", mode, "runId", count, events, "firstAt", "lastAt", "closeAt")
         VALUES (gen_random_uuid(), $1::uuid, $2, $3::uuid, $4, $4, $5, $6::"DigestMode", $7::uuid, 1, $8::jsonb, $9::timestamp(3), $9::timestamp(3),
           CASE WHEN $12::int IS NOT NULL AND 1 >= $12::int THEN $9::timestamp(3) ELSE $10::timestamp(3) END)
         ON CONFLICT ("notificationId", "userId", "stepIndex", "openKey") DO UPDATE SET
           count = d.count + 1,
           events = CASE WHEN jsonb_array_length(d.events) < $11
             THEN (SELECT jsonb_agg(e ORDER BY e->>'_runId' COLLATE "C") FROM jsonb_array_elements(d.events || $8::jsonb) AS e)
             ELSE d.events END,
           "lastAt" = $9::timestamp(3),
           "closeAt" = CASE
             WHEN $12::int IS NOT NULL AND d.count + 1 >= $12::int THEN least(d."closeAt", $9::timestamp(3))
             WHEN $6 = 'SLIDING' THEN least($9::timestamp(3) + make_interval(secs => $13::double precision), d."firstAt" + make_interval(secs => $14::double precision))
             ELSE d."closeAt" END
         RETURNING id::text, "runId"::text, count, "closeAt", (xmax = 0) AS inserted`,
        run.projectId,
        run.notificationId,
        run.userId,
        key,
        index,
        sliding ? 'SLIDING' : 'FIXED',
        run.id,
        event,
        iso(now),
        iso(firstClose),
        cap,
        step.maxEvents ?? null,
        windowMs / 1000,
        maxWaitMs / 1000,
      );
      const o = outcome!;
      if (o.inserted) {
        await this.commit(tx, run, index, `status = 'WAITING', "dueAt" = $4::timestamp(3), "leaseUntil" = NULL`, [iso(o.closeAt)], step.kind, { status: 'WAITING', reason: `opened digest (key ${JSON.stringify(key)})`, resumeAt: o.closeAt, digestId: o.id });
      } else {
        const reason = `joined digest ${o.id} of run ${o.runId} (event ${o.count})`;
        await this.commit(tx, run, index, `status = 'MERGED', "finishedAt" = now(), "leaseUntil" = NULL, reason = $4, "digestId" = $5::uuid`, [reason, o.id], step.kind, { status: 'MERGED', reason, digestId: o.id });
        if (o.closeAt <= now) {
          // maxEvents reached: the opener closes it now rather than at the end of the window.
          await tx.execute(`UPDATE "WorkflowRun" SET "dueAt" = $2::timestamp(3) WHERE id = $1::uuid AND status = 'WAITING'`, o.runId, iso(now));
          wakeLeader = true;
        }
      }
    });
    const o = outcome!;
    // The live in-app item shows the new count: after the commit, off the digest's row lock.
    const live = liveInAppStep(run.steps as unknown as WorkflowStep[], index) !== null;
    if (o.inserted) {
      this.publish(run, index, 'WAITING');
      await this.wake([run.id], o.closeAt);
      if (live) await this.live.refresh(o.id);
    } else {
      this.publish(run, index, 'MERGED');
      this.publish({ id: o.runId, projectId: run.projectId }, index, 'WAITING');
      // Full: the opener closes it now, here (its claim decides if another engine was quicker),
      // rather than behind every queued join; the sweep is the fallback.
      if (wakeLeader) void this.runMany([o.runId]).catch((error: unknown) => this.deps.logger.warn({ err: error, runId: o.runId }, 'Could not close a full digest now; the sweep will'));
      if (live) await this.live.refresh(o.id);
    }
    return false;
  }

  /**
   * THROTTLE: one counter row per (notification, user, rendered key), its window starting at the
   * first run that passed; the upsert passes a run only while the count is under the limit (or
   * the window is over: a new one starts). Row-locked, so concurrent runs count exactly.
   */
  private async throttle(run: WorkflowRun, user: User | null, index: number, step: ThrottleStep): Promise<boolean> {
    const now = clock.now();
    let key: string;
    try {
      key = step.key ? (await this.render(run, user, step.key, `workflow.${index}.key`)).trim() : '';
    } catch (error) {
      await this.step(run, index, step, { status: 'FAILED', reason: `key did not render: ${(error as Error).message}` }, 'FAILED');
      return false;
    }
    let passed: { count: number } | undefined;
    await transaction(async (tx) => {
      [passed] = await tx.query<{ count: number }>(
        `INSERT INTO "WorkflowThrottle" AS t ("projectId", "notificationId", "userId", key, "windowStart", count)
         VALUES ($1::uuid, $2, $3::uuid, $4, $5::timestamp(3), 1)
         ON CONFLICT ("notificationId", "userId", key) DO UPDATE SET
           count = CASE WHEN t."windowStart" + make_interval(secs => $6::double precision) <= $5::timestamp(3) THEN 1 ELSE t.count + 1 END,
           "windowStart" = CASE WHEN t."windowStart" + make_interval(secs => $6::double precision) <= $5::timestamp(3) THEN $5::timestamp(3) ELSE t."windowStart" END
         WHERE t."windowStart" + make_interval(secs => $6::double precision) <= $5::timestamp(3) OR t.count < $7
         RETURNING count`,
        run.projectId,
        run.notificationId,
        run.userId,
        key,
        iso(now),
        step.windowSeconds,
        step.limit,
      );
      if (passed) await this.commit(tx, run, index, `cursor = $4`, [index + 1], step.kind, { status: 'DONE', reason: `${passed.count}/${step.limit} in the window` });
      else
        await this.commit(tx, run, index, `status = 'THROTTLED', "finishedAt" = now(), "leaseUntil" = NULL, reason = $4`, [`at most ${step.limit} per ${step.windowSeconds} s (key ${JSON.stringify(key)})`], step.kind, {
          status: 'THROTTLED',
          reason: `limit ${step.limit} per ${step.windowSeconds} s reached`,
        });
    });
    this.publish(run, index, passed ? 'DONE' : 'THROTTLED');
    if (!passed) return false;
    run.cursor = index + 1;
    return true;
  }
}

class NotYet extends Error {}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
