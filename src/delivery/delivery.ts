import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import { columnList, prisma, rawQuery } from '../db/client.ts';
import { Prisma, type Channel, type Message, type MessageStatus, type User } from '../generated/prisma/client.ts';
import type { HeraldPubSub, MessageStatusEvent } from '../realtime/pubsub.ts';
import { mutedReason } from '../modules/preferences/service.ts';
import { deliverInAppBatch, type InAppClaim } from './providers/in-app.ts';
import { BUILT_IN, createProviderRegistry } from './providers/registry.ts';
import { ProviderError, type ChannelProvider, type ProviderSettings } from './providers/types.ts';
import type { JobQueue, NewJob } from './queue.ts';
import type { SecretBox } from './secrets.ts';
import { redactUrl } from './providers/outbound.ts';
import { serviceOf } from './providers/mobile-push.ts';
import { postSigned } from './signing.ts';
import { traceCarrier, tracedJob } from '../telemetry/spans.ts';
import type { WorkflowWaker } from '../modules/workflows/service.ts';
import { TransactionalLoad } from './load.ts';

export const CHANNEL_QUEUES: Channel[] = ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK', 'SLACK', 'MS_TEAMS', 'DISCORD', 'MOBILE_PUSH'];
export const queueName = (channel: Channel) => `delivery-${channel.toLowerCase().replace('_', '-')}`;
export const CALLBACK_QUEUE = 'callbacks';
/** Outcomes: callbacks and the status webhook get them, the retention purge may remove them. BOUNCED and READ come from delivery receipts. */
export const TERMINAL: MessageStatus[] = ['SENT', 'DELIVERED', 'FAILED', 'SKIPPED', 'CANCELED', 'BOUNCED', 'READ'];

/** The row as this attempt claimed it: its outcome is written only while nobody re-claimed it. */
const claimOf = (message: Pick<Message, 'id' | 'attempts'>) => ({ id: message.id, status: 'SENDING' as const, attempts: message.attempts });

/** A MessageEvent as publishing needs it. */
interface EventRow {
  attempt: number;
  error: string | null;
  at: Date;
}

/** What the messageStatus topic carries for a recorded transition: ids and ISO strings only. */
function statusEvent(
  message: Pick<Message, 'id' | 'projectId' | 'userId' | 'notificationId' | 'channel'>,
  status: MessageStatus,
  event: EventRow,
): MessageStatusEvent {
  return {
    messageId: message.id,
    projectId: message.projectId,
    userId: message.userId,
    notificationId: message.notificationId,
    channel: message.channel,
    status,
    attempt: event.attempt,
    error: event.error,
    at: event.at.toISOString(),
  };
}

/** A send that succeeded, waiting for its batch's finishMany. */
interface Settled {
  message: Message;
  status: 'SENT' | 'DELIVERED';
  provider: string;
  providerMessageId: string | undefined;
  statusWebhookUrl: string | null;
}

interface ClaimedProviderConfig {
  kind: string;
  name: string;
  settings: unknown;
  secrets: string | null;
}

/** The user's columns in the claim statement, prefixed: the generated list follows the schema. */
const USER_COLUMNS = Object.values(Prisma.UserScalarFieldEnum)
  .map((f) => `u."${f}" AS "user.${f}"`)
  .join(', ');
/** The message's columns, named: the claim is a prepared statement, which must not select `*`. */
const UPDATED_COLUMNS = columnList(Prisma.MessageScalarFieldEnum, 'm').text;
const CLAIMED_COLUMNS = columnList(Prisma.MessageScalarFieldEnum, 'c').text;

type ClaimRow = Message & { [column: `user.${string}`]: unknown } & {
  _signingSecret: string | null;
  _statusWebhookUrl: string | null;
  _notificationKey: string | null;
  /** The default preferences of the message's tenant (null: no tenant, or it was deleted). */
  _tenantPreferences: unknown;
  _providers: ClaimedProviderConfig[];
  _sendingAt: Date;
};

function splitClaim(row: ClaimRow) {
  const message: Record<string, unknown> = {};
  const user: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith('user.')) user[column.slice(5)] = value;
    else if (!column.startsWith('_')) message[column] = value;
  }
  // The message's project cannot be missing (its rows cascade); a join that found none is a bug.
  if (row._signingSecret === null) throw new Error(`project of message ${row.id} not found`);
  return {
    message: message as unknown as Message,
    user: user.id == null ? null : (user as unknown as User),
    project: { signingSecret: row._signingSecret, statusWebhookUrl: row._statusWebhookUrl },
    notificationKey: row._notificationKey,
    tenantPreferences: row._tenantPreferences,
    providerConfigs: row._providers,
  };
}

/** One message (retries, scheduled sends, rate-limited channels) or a batch of due ones. */
interface DeliveryJob {
  messageId?: string;
  messageIds?: string[];
  /** W3C trace context of the dispatching request (only when tracing is on): the delivery joins its trace. */
  trace?: Record<string, string>;
  /** A broadcast's batch (dispatched with a priority): it yields to transactional work (TransactionalLoad.background). */
  background?: true;
}
interface CallbackJob {
  url: string;
  projectId: string;
  payload: Record<string, unknown>;
}

/** Told of every accepted message and recorded outcome (the /metrics counters, src/server/metrics.ts). */
export interface DeliveryObserver {
  messageAccepted(channel: Channel, status: MessageStatus): void;
  /** A worker recorded this transition: an outcome, or QUEUED for a retry after a transient error. */
  deliveryRecorded(channel: Channel, status: MessageStatus, provider: string | null): void;
}

export interface DeliveryDeps {
  config: Config;
  queue: JobQueue;
  pubsub: HeraldPubSub;
  logger: Logger;
  secrets: SecretBox;
  /** Extra provider kinds (tests, plugins); the built-in ones are always there. */
  providers?: ChannelProvider[];
  observer?: DeliveryObserver | undefined;
}

/**
 * The delivery pipeline after a message is accepted: dispatch to the queue, the worker's state
 * machine (claim → SENDING → provider → SENT/DELIVERED, or retry with backoff, then failover,
 * then FAILED), status events, callbacks, and the reconciler that makes crashes lose nothing.
 */
export class Delivery {
  private readonly providers: Map<string, ChannelProvider>;
  /** The workflow engine of this process (set by the runtime): send paths wake the runs they start. */
  workflows: WorkflowWaker | undefined;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  /** This process's transactional sends in flight, which broadcasts (their chunks and deliveries) yield to. */
  readonly load: TransactionalLoad;

  constructor(private readonly deps: DeliveryDeps) {
    this.load = new TransactionalLoad({ yieldMs: deps.config.BROADCAST_YIELD_MS, backgroundConcurrency: deps.config.BROADCAST_DELIVERY_CONCURRENCY });
    this.providers = createProviderRegistry(deps.pubsub);
    for (const provider of deps.providers ?? []) this.providers.set(provider.kind, provider);
  }

  /** The job queue under the pipeline (the broadcast fan-out queues its wake-ups on it). */
  get jobs(): JobQueue {
    return this.deps.queue;
  }

  get maxAttempts(): number {
    return this.deps.config.DELIVERY_MAX_ATTEMPTS;
  }

  sealSecrets(secrets: Record<string, unknown>): string {
    return this.deps.secrets.seal(secrets);
  }

  get providerKinds(): string[] {
    return [...this.providers.keys()];
  }

  /** The provider implementing a kind (for validating its configuration), if any. */
  providerOfKind(kind: string): ChannelProvider | undefined {
    return this.providers.get(kind);
  }

  /**
   * Hands accepted messages to the queue. Failure is logged, not thrown: the reconciler retries.
   * Due messages go as one job per batch (DELIVERY_BATCH_SIZE) and channel, added in one
   * addBulk: a worker claims the batch in one statement. Delayed ones, and channels with a rate
   * limit (the queue's limiter counts jobs), keep one job per message.
   */
  async dispatch(messages: Pick<Message, 'id' | 'channel' | 'scheduledAt' | 'attempts'>[], jobSuffix?: string, options: { priority?: number | undefined } = {}): Promise<void> {
    if (messages.length === 0) return;
    const { config } = this.deps;
    const trace = traceCarrier();
    try {
      for (const channel of CHANNEL_QUEUES) {
        const forChannel = messages.filter((m) => m.channel === channel);
        if (forChannel.length === 0) continue;
        const now = Date.now();
        const batchable = !config.DELIVERY_RATE_LIMITS[channel];
        const due: typeof forChannel = [];
        const single: typeof forChannel = [];
        for (const m of forChannel) (batchable && (!m.scheduledAt || m.scheduledAt.getTime() <= now) ? due : single).push(m);
        const jobs: NewJob<DeliveryJob>[] = single.map((m) => ({
          // One job id per attempt; the reconciler adds its own suffix, because a job that
          // failed for good keeps its id in the queue and would block a plain re-add.
          id: `${m.id}_${jobSuffix ?? m.attempts}`,
          data: { messageId: m.id, ...(trace ? { trace } : {}), ...(options.priority ? { background: true as const } : {}) },
          delayMs: m.scheduledAt ? m.scheduledAt.getTime() - now : 0,
          priority: options.priority,
        }));
        for (let i = 0; i < due.length; i += config.DELIVERY_BATCH_SIZE) {
          const batch = due.slice(i, i + config.DELIVERY_BATCH_SIZE);
          jobs.push({ id: `b${batch.length}_${batch[0]!.id}_${jobSuffix ?? batch[0]!.attempts}`, data: { messageIds: batch.map((m) => m.id), ...(trace ? { trace } : {}), ...(options.priority ? { background: true as const } : {}) }, priority: options.priority });
        }
        // Handler errors are infrastructure failures (database down): retried by the queue.
        await this.deps.queue.add<DeliveryJob>(queueName(channel), jobs, { attempts: 5, backoffMs: 1_000 });
      }
      // On the pool: once per accepted batch, where the ORM's per-call work was most of the cost.
      await rawQuery(`UPDATE "Message" SET "enqueuedAt" = $1::timestamp(3) WHERE id = ANY($2::uuid[])`, [new Date().toISOString(), messages.map((m) => m.id)], { prepared: true });
    } catch (error) {
      this.deps.logger.warn({ err: error, count: messages.length }, 'Could not enqueue messages; the reconciler will');
    }
  }

  startWorkers(): void {
    const { config } = this.deps;
    for (const channel of CHANNEL_QUEUES) {
      this.deps.queue.process<DeliveryJob>(
        queueName(channel),
        (job) => {
          const ids = job.messageIds ?? (job.messageId ? [job.messageId] : []);
          // A broadcast's batch also pauses between its claim and its writes while transactional sends are accepted.
          const pause = job.background ? () => this.load.quiet() : undefined;
          const run = () => tracedJob('herald.deliver', job.trace, { 'herald.channel': channel, 'herald.messages': ids.length }, () => this.deliverMany(ids, pause));
          return job.background ? this.load.background(run) : run();
        },
        {
          concurrency: config.DELIVERY_CONCURRENCY,
          limiter: config.DELIVERY_RATE_LIMITS[channel],
        },
      );
    }
    this.deps.queue.process<CallbackJob>(CALLBACK_QUEUE, (job) => this.postCallback(job), { concurrency: 10 });
    this.reconcileTimer = setInterval(() => void this.reconcile(), config.RECONCILE_INTERVAL_MS);
    this.reconcileTimer.unref();
    // Right away too: whatever the last process left behind goes out now.
    void this.reconcile();
  }

  async close(): Promise<void> {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    await this.reconciling;
  }

  /** One attempt at one message (see deliverMany). */
  deliver(messageId: string): Promise<void> {
    return this.deliverMany([messageId]);
  }

  /**
   * One attempt at each of these messages. Safe to run twice: the claim is an atomic UPDATE that
   * only a QUEUED/SCHEDULED message (or a SENDING one whose worker's lease ran out) passes; the
   * rows are locked in id order, so two jobs naming the same messages (a reconciler re-dispatch)
   * cannot deadlock. Not SKIP LOCKED: the accepting request's enqueuedAt update holds the row
   * for a moment right after the job is added, and a skipped row would wait for the reconciler
   * (RECONCILE_STALE_MS) instead of being delivered now. Plain in-app messages
   * are delivered together in one statement (deliverInAppBatch); the others (providers that
   * call out, stacking in-app ones, muted ones) each take their own attempt, at most
   * DELIVERY_CONCURRENCY of a batch at a time, a user's in order.
   */
  async deliverMany(messageIds: string[], pause?: () => Promise<void>): Promise<void> {
    if (messageIds.length === 0) return;
    const claimed = (await this.claim(messageIds)).map((row) => ({ ...splitClaim(row), sendingAt: row._sendingAt }));
    // Bounded (BROADCAST_YIELD_MS), far below the claim's lease.
    if (pause) await pause();
    const inApp: InAppClaim[] = [];
    const others: typeof claimed = [];
    for (const c of claimed) {
      // Not awaited: SENDING is not terminal, so announcing it only publishes (no callbacks to queue).
      this.announce(c.message, 'SENDING', { attempt: c.message.attempts, error: null, at: c.sendingAt }).catch((error: unknown) =>
        this.deps.logger.warn({ err: error, messageId: c.message.id }, 'Could not publish a status event'),
      );
      const entry = mutedReason(c.message, { preferences: c.user?.preferences, notificationKey: c.notificationKey, tenantPreferences: c.tenantPreferences })
        ? undefined
        : this.providerChain(c.message, c.providerConfigs)[Math.floor((c.message.attempts - 1) / c.message.maxAttempts)];
      if (entry?.provider.kind === 'in-app' && c.message.userId && !c.message.incrementId) inApp.push({ message: c.message, provider: entry.name });
      else others.push(c);
    }
    const byId = new Map(claimed.map((c) => [c.message.id, c]));
    const inAppDone = (async () => {
      let delivered: Awaited<ReturnType<typeof deliverInAppBatch>>;
      try {
        delivered = await deliverInAppBatch(this.deps.pubsub, inApp);
      } catch (error) {
        // Its transaction rolled back: nothing of it reached an inbox, so the queue's retry may
        // claim these rows again at once instead of waiting out their lease.
        await this.release(inApp.map((c) => c.message));
        throw error;
      }
      const done = new Set(delivered.map((d) => d.messageId));
      for (const { message } of inApp) if (!done.has(message.id)) this.leaseLost(message, 'DELIVERED');
      const providerOf = new Map(inApp.map((claim) => [claim.message.id, claim.provider]));
      for (const d of delivered) {
        const c = byId.get(d.messageId)!;
        this.deps.observer?.deliveryRecorded(c.message.channel, 'DELIVERED', providerOf.get(d.messageId) ?? null);
        await this.announce(c.message, 'DELIVERED', { attempt: d.attempt, error: null, at: d.at }, c.project.statusWebhookUrl);
      }
    })();
    // One lane per user, in claim (id) order: a user's messages on this path (stacking ones
    // above all) are attempted one after the other, as they were sent.
    const lanes = new Map<string, typeof claimed>();
    for (const c of others) {
      const key = c.message.userId ?? c.message.id;
      lanes.set(key, [...(lanes.get(key) ?? []), c]);
    }
    const queue = [...lanes.values()];
    // Successful sends of this batch, recorded together once its lanes are done.
    const settled: Settled[] = [];
    const lane = async () => {
      for (let mine = queue.shift(); mine; mine = queue.shift()) for (const c of mine) await this.attempt(c, settled);
    };
    const results = await Promise.allSettled([inAppDone, ...Array.from({ length: Math.min(queue.length, this.deps.config.DELIVERY_CONCURRENCY) }, lane)]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // The queue retries the job. The in-app rows were released above; the others keep their lease
    // (an attempt that threw may have reached its provider) until the reconciler frees them.
    const finished = this.finishMany(settled);
    if (failed) {
      await finished.catch(() => {});
      throw failed.reason;
    }
    await finished;
  }

  /**
   * Records the successful sends of a batch (SENT, or DELIVERED where the channel confirms it) in
   * one statement, each guarded by its claim like transition(), then publishes them. A crash
   * before it leaves the messages SENDING: after the lease they are sent again with the same
   * idempotency key, as after a crash right after a single send.
   */
  private async finishMany(settled: Settled[]): Promise<void> {
    if (settled.length === 0) return;
    const now = new Date();
    const input = JSON.stringify(settled.map((x) => ({ id: x.message.id, attempts: x.message.attempts, status: x.status, provider: x.provider, providerMessageId: x.providerMessageId ?? null })));
    const rows = await prisma().$queryRaw<{ messageId: string; attempt: number; at: Date }[]>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${input}::jsonb) AS x(id uuid, attempts int, status text, provider text, "providerMessageId" text)
      ),
      moved AS (
        UPDATE "Message" m SET status = x.status::"MessageStatus", "leaseUntil" = NULL, "updatedAt" = ${now}, provider = x.provider,
          "providerMessageId" = x."providerMessageId", "lastError" = NULL, "sentAt" = ${now},
          "deliveredAt" = CASE WHEN x.status = 'DELIVERED' THEN ${now} ELSE m."deliveredAt" END
        FROM input x
        WHERE m.id = x.id AND m.status = 'SENDING' AND m.attempts = x.attempts
        RETURNING m.id, m."projectId", m.attempts, x.status, x.provider
      )
      INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt, provider)
      SELECT id, "projectId", status::"MessageStatus", attempts, provider FROM moved
      RETURNING "messageId", attempt, at`;
    const recorded = new Map(rows.map((r) => [r.messageId, r]));
    for (const x of settled) {
      const row = recorded.get(x.message.id);
      if (!row) this.leaseLost(x.message, x.status);
      else {
        this.deps.observer?.deliveryRecorded(x.message.channel, x.status, x.provider);
        await this.announce(x.message, x.status, { attempt: row.attempt, error: null, at: row.at }, x.statusWebhookUrl);
      }
    }
  }

  /**
   * The claim of many messages, their SENDING events and everything an attempt reads, in one
   * statement (seven round trips per message before): the user (and preferences, read at
   * delivery time: a user who mutes a channel stops scheduled ones too), the notification's key,
   * the project's secret and status webhook and the provider chain. Reading them in the claim's
   * snapshot needs no cache, so a provider configuration change applies to the next attempt.
   * The SENDING event commits with the claim, so a muted message records SENDING before SKIPPED.
   */
  private claim(messageIds: string[]): Promise<ClaimRow[]> {
    const leaseUntil = new Date(Date.now() + this.deps.config.DELIVERY_LEASE_MS);
    // On the pool (rawQuery): Prisma's mapping of 50 wide rows was most of a batch's claim CPU.
    return rawQuery<ClaimRow>(
      `
      WITH claimable AS (
        SELECT id FROM "Message"
        WHERE id = ANY($1::uuid[])
          AND (status IN ('QUEUED', 'SCHEDULED') OR (status = 'SENDING' AND "leaseUntil" < now()))
          AND ("scheduledAt" IS NULL OR "scheduledAt" <= now() + interval '1 second')
        ORDER BY id
        FOR UPDATE
      ),
      claimed AS (
        UPDATE "Message" m SET status = 'SENDING', attempts = m.attempts + 1, "leaseUntil" = $2::timestamp(3), "updatedAt" = now()
        FROM claimable WHERE m.id = claimable.id
        RETURNING ${UPDATED_COLUMNS}
      ),
      sending AS (
        INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt)
        SELECT id, "projectId", 'SENDING', attempts FROM claimed
        RETURNING "messageId", at
      )
      SELECT ${CLAIMED_COLUMNS}, ${USER_COLUMNS}, s.at AS "_sendingAt",
        p."signingSecret" AS "_signingSecret", p."statusWebhookUrl" AS "_statusWebhookUrl", n.key AS "_notificationKey",
        tn.preferences AS "_tenantPreferences",
        (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', pc.kind, 'name', pc.name, 'settings', pc.settings, 'secrets', pc.secrets) ORDER BY pc.priority), '[]'::jsonb)
          FROM "ProviderConfig" pc WHERE pc."projectId" = c."projectId" AND pc.channel = c.channel AND pc.enabled) AS "_providers"
      FROM claimed c
      JOIN sending s ON s."messageId" = c.id
      LEFT JOIN "User" u ON u.id = c."userId"
      LEFT JOIN "Project" p ON p.id = c."projectId"
      LEFT JOIN "Notification" n ON n.id = c."notificationId"
      LEFT JOIN "Tenant" tn ON tn.id = c."tenantId"
      ORDER BY c.id`,
      [messageIds, leaseUntil.toISOString()],
      // Prepared: one text, run for every batch a worker takes.
      { prepared: true },
    );
  }

  /**
   * Hands claimed rows back (QUEUED, the attempt not counted, no lease) when their attempt is
   * known not to have happened: still SENDING under this claim, so a row another worker
   * re-claimed meanwhile is left alone. A database that does not answer leaves them to the lease.
   */
  private async release(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await rawQuery(
        `UPDATE "Message" m SET status = 'QUEUED', attempts = m.attempts - 1, "leaseUntil" = NULL, "updatedAt" = now()
         FROM unnest($1::uuid[], $2::int[]) AS x(id, attempts)
         WHERE m.id = x.id AND m.status = 'SENDING' AND m.attempts = x.attempts`,
        [messages.map((m) => m.id), messages.map((m) => m.attempts)],
      );
    } catch (error) {
      this.deps.logger.warn({ err: error, count: messages.length }, 'Could not release claimed messages; their lease will');
    }
  }

  /** The rest of one claimed message's attempt: preferences, the provider, the outcome. */
  private async attempt({ message, user, project, notificationKey, tenantPreferences, providerConfigs }: ReturnType<typeof splitClaim>, settled?: Settled[]): Promise<void> {
    const { config } = this.deps;
    const muted = mutedReason(message, { preferences: user?.preferences, notificationKey, tenantPreferences });
    if (muted) {
      await this.finish(message, 'SKIPPED', { error: muted, statusWebhookUrl: project.statusWebhookUrl });
      return;
    }

    const chain = this.providerChain(message, providerConfigs);
    const index = Math.floor((message.attempts - 1) / message.maxAttempts);
    const entry = chain[index];
    const { statusWebhookUrl } = project;
    if (!entry) {
      await this.finish(message, 'FAILED', {
        error: chain.length
          ? message.lastError ?? 'all providers failed'
          : `no ${message.channel} provider is configured for this project${message.channel === 'MOBILE_PUSH' ? ` that reaches ${serviceOf(message) ?? 'this'} devices` : ''}`,
        statusWebhookUrl,
      });
      return;
    }
    try {
      const outcome = await entry.provider.send({ message, user, idempotencyKey: message.id, signingSecret: project.signingSecret }, entry.settings);
      const status = outcome.delivered ? 'DELIVERED' : 'SENT';
      if (settled) settled.push({ message, status, provider: entry.name, providerMessageId: outcome.providerMessageId, statusWebhookUrl });
      else await this.finish(message, status, { provider: entry.name, providerMessageId: outcome.providerMessageId, statusWebhookUrl });
    } catch (error) {
      const providerError = error instanceof ProviderError ? error : new ProviderError((error as Error).message, false);
      if (providerError.permanent) {
        await this.finish(message, 'FAILED', { provider: entry.name, error: providerError.message, statusWebhookUrl });
        return;
      }
      const attemptOnProvider = ((message.attempts - 1) % message.maxAttempts) + 1;
      const failover = attemptOnProvider >= message.maxAttempts;
      if (failover && !chain[index + 1]) {
        await this.finish(message, 'FAILED', { provider: entry.name, error: providerError.message, statusWebhookUrl });
        return;
      }
      // Exponential backoff with jitter; a failover is tried at once. A provider that said when to
      // come back (429 Retry-After, Discord's retry_after) is not asked again before that.
      const backoff = Math.round(config.DELIVERY_BACKOFF_MS * 2 ** (attemptOnProvider - 1) * (0.8 + Math.random() * 0.4));
      const delay = failover ? 0 : Math.max(backoff, providerError.retryAfterMs ?? 0);
      const scheduledAt = new Date(Date.now() + delay);
      const requeued = await this.transition(message, 'QUEUED', [Prisma.sql`"lastError" = ${providerError.message}`, Prisma.sql`provider = ${entry.name}`, Prisma.sql`"scheduledAt" = ${scheduledAt}`], {
        provider: entry.name,
        error: providerError.message,
      });
      if (!requeued) return this.leaseLost(message, 'QUEUED');
      this.deps.observer?.deliveryRecorded(message.channel, 'QUEUED', entry.name);
      await this.announce(message, 'QUEUED', requeued);
      await this.dispatch([{ id: message.id, channel: message.channel, scheduledAt, attempts: message.attempts }]);
    }
  }

  private providerChain(message: Message, configs: ClaimedProviderConfig[]): { name: string; provider: ChannelProvider; settings: ProviderSettings }[] {
    const chain = configs.flatMap((c) => {
      const provider = this.providers.get(c.kind);
      if (!provider || (provider.accepts && !provider.accepts(message))) return [];
      const secrets = c.secrets ? this.deps.secrets.open(c.secrets) : {};
      return [{ name: c.name, provider, settings: { ...(c.settings as object), ...secrets } }];
    });
    const builtIn = BUILT_IN[message.channel];
    if (chain.length === 0 && builtIn) chain.push({ name: builtIn, provider: this.providers.get(builtIn)!, settings: {} });
    return chain;
  }

  private async finish(
    message: Message,
    status: MessageStatus,
    details: { provider?: string; providerMessageId?: string | undefined; error?: string; statusWebhookUrl: string | null },
  ): Promise<void> {
    const now = new Date();
    const finished = await this.transition(
      message,
      status,
      [
        Prisma.sql`provider = ${details.provider ?? message.provider}`,
        Prisma.sql`"providerMessageId" = ${details.providerMessageId ?? null}`,
        Prisma.sql`"lastError" = ${details.error ?? (status === 'FAILED' ? message.lastError : null)}`,
        ...(status === 'SENT' || status === 'DELIVERED' ? [Prisma.sql`"sentAt" = ${now}`] : []),
        ...(status === 'DELIVERED' ? [Prisma.sql`"deliveredAt" = ${now}`] : []),
      ],
      { provider: details.provider, error: details.error },
    );
    if (!finished) return this.leaseLost(message, status);
    this.deps.observer?.deliveryRecorded(message.channel, status, details.provider ?? message.provider);
    await this.announce(message, status, finished, details.statusWebhookUrl);
  }

  /**
   * Moves the message this attempt claimed out of SENDING and records the event, in one
   * statement (an UPDATE then an INSERT before): the event row exists only if the claim check
   * passed, and both commit together. Null when the lease was lost. The caller publishes.
   */
  private async transition(
    message: Message,
    status: MessageStatus,
    set: Prisma.Sql[],
    event: { provider?: string | undefined; error?: string | undefined },
  ): Promise<EventRow | null> {
    const claim = claimOf(message);
    const [row] = await prisma().$queryRaw<EventRow[]>`
      WITH moved AS (
        UPDATE "Message" SET status = ${status}::"MessageStatus", "leaseUntil" = NULL, "updatedAt" = ${new Date()}, ${Prisma.join(set)}
        WHERE id = ${claim.id}::uuid AND status = ${claim.status}::"MessageStatus" AND attempts = ${claim.attempts}
        RETURNING id, "projectId"
      )
      INSERT INTO "MessageEvent" ("messageId", "projectId", status, attempt, provider, error)
      SELECT id, "projectId", ${status}::"MessageStatus", ${message.attempts}, ${event.provider ?? null}, ${event.error ?? null} FROM moved
      RETURNING attempt, error, at`;
    return row ?? null;
  }

  /**
   * This attempt's lease ran out and the message was claimed again (or settled) meanwhile: the
   * newer attempt owns it, so this outcome is not recorded (no second terminal state).
   */
  private leaseLost(message: Message, outcome: MessageStatus): void {
    this.deps.logger.warn({ messageId: message.id, attempt: message.attempts, outcome }, 'Lease lost during the attempt; its outcome is dropped');
  }

  /** Records a transition, publishes it, and queues the callbacks of terminal ones. */
  async event(
    message: Pick<Message, 'id' | 'projectId' | 'userId' | 'notificationId' | 'channel' | 'callbackUrl' | 'callbackMetadata' | 'requestId'>,
    status: MessageStatus,
    details: {
      attempt?: number;
      provider?: string | undefined;
      error?: string | undefined;
      tx?: Prisma.TransactionClient;
      /** The project's, when the caller has just read it (undefined: read it here). */
      statusWebhookUrl?: string | null | undefined;
    } = {},
  ): Promise<void> {
    const db = details.tx ?? prisma();
    const event = await db.messageEvent.create({
      data: { messageId: message.id, projectId: message.projectId, status, attempt: details.attempt ?? 0, provider: details.provider ?? null, error: details.error ?? null },
      select: { attempt: true, error: true, at: true },
    });
    if (details.tx) return; // the caller publishes after its commit (see publishAccepted)
    await this.announce(message, status, event, details.statusWebhookUrl);
  }

  /** Publishes a recorded (committed) transition and queues the callbacks of terminal ones. */
  private async announce(
    message: Pick<Message, 'id' | 'projectId' | 'userId' | 'notificationId' | 'channel' | 'callbackUrl' | 'callbackMetadata' | 'requestId'>,
    status: MessageStatus,
    event: EventRow,
    /** The project's, when the caller has just read it (undefined: read it here). */
    statusWebhookUrl?: string | null,
  ): Promise<void> {
    const payload = statusEvent(message, status, event);
    this.deps.pubsub.publish('messageStatus', message.projectId, payload);
    if (TERMINAL.includes(status)) await this.queueCallbacks(message, payload, statusWebhookUrl);
  }

  /**
   * Publishes a transition recorded elsewhere (a delivery receipt, src/modules/receipts) and
   * queues its callbacks, as a worker's own transitions are.
   */
  async publishRecorded(
    message: Pick<Message, 'id' | 'projectId' | 'userId' | 'notificationId' | 'channel' | 'callbackUrl' | 'callbackMetadata' | 'requestId'>,
    status: MessageStatus,
    event: EventRow,
    provider: string | null,
  ): Promise<void> {
    this.deps.observer?.deliveryRecorded(message.channel, status, provider);
    await this.announce(message, status, event);
  }

  /** A provider configuration's settings with its secrets opened (what send() gets). */
  providerSettings(config: { settings: unknown; secrets: string | null }): ProviderSettings {
    return { ...(config.settings as object), ...(config.secrets ? this.deps.secrets.open(config.secrets) : {}) };
  }

  /** Publishes the first status of messages written in a transaction that has now committed. */
  publishAccepted(messages: Message[]): void {
    for (const m of messages) this.deps.observer?.messageAccepted(m.channel, m.status);
    for (const m of messages) this.deps.pubsub.publish('messageStatus', m.projectId, statusEvent(m, m.status, { attempt: 0, error: null, at: m.createdAt }));
  }

  private async queueCallbacks(
    message: Pick<Message, 'id' | 'projectId' | 'callbackUrl' | 'callbackMetadata' | 'requestId'>,
    event: MessageStatusEvent,
    statusWebhookUrl: string | null | undefined,
  ): Promise<void> {
    const projectUrl =
      statusWebhookUrl !== undefined
        ? statusWebhookUrl
        : (await prisma().project.findUnique({ where: { id: message.projectId }, select: { statusWebhookUrl: true } }))?.statusWebhookUrl;
    const targets = [message.callbackUrl, projectUrl].filter((u): u is string => Boolean(u));
    if (targets.length === 0) return;
    const payload = { ...event, requestId: message.requestId, metadata: message.callbackMetadata ?? null };
    await this.deps.queue
      .add<CallbackJob>(
        CALLBACK_QUEUE,
        targets.map((url, i) => ({ id: `${message.id}_${event.status}_${i}`, data: { url, projectId: message.projectId, payload } })),
        { attempts: 8, backoffMs: 2_000 },
      )
      .catch((error: unknown) => this.deps.logger.warn({ err: error, messageId: message.id }, 'Could not queue a callback'));
  }

  private async postCallback(job: CallbackJob): Promise<void> {
    const project = await prisma().project.findUnique({ where: { id: job.projectId }, select: { signingSecret: true } });
    if (!project) return;
    const answer = await postSigned(job.url, job.payload, project.signingSecret);
    // Not 2xx: throw, and the queue retries with backoff.
    // The URL without credentials or query: this message is logged.
    if (answer.status < 200 || answer.status >= 300) throw new Error(`callback ${redactUrl(job.url)} answered ${answer.status}`);
  }

  /**
   * Re-dispatches what would otherwise be lost: messages committed but never enqueued, queued
   * ones with no progress (jobs lost with Redis), and SENDING ones whose worker died.
   */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce()
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'Reconciler run failed'))
      .finally(() => {
        this.reconciling = undefined;
      });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const { config } = this.deps;
    const stale = new Date(Date.now() - config.RECONCILE_STALE_MS);
    const expired = await prisma().message.findMany({
      where: { status: 'SENDING', leaseUntil: { lt: new Date() } },
      take: 500,
    });
    for (const message of expired) {
      const updated = await prisma().message.updateMany({
        where: { id: message.id, status: 'SENDING', leaseUntil: { lt: new Date() } },
        data: { status: 'QUEUED', leaseUntil: null, scheduledAt: null, lastError: 'worker lease expired (crash?): retrying' },
      });
      if (updated.count) await this.event(message, 'QUEUED', { attempt: message.attempts, error: 'worker lease expired: retrying' });
    }
    const lost = await prisma().message.findMany({
      where: {
        status: { in: ['QUEUED', 'SCHEDULED'] },
        OR: [
          { enqueuedAt: null, createdAt: { lt: new Date(Date.now() - 2_000) } },
          { updatedAt: { lt: stale }, OR: [{ scheduledAt: null }, { scheduledAt: { lt: stale } }] },
          { id: { in: expired.map((m) => m.id) } },
        ],
      },
      select: { id: true, channel: true, scheduledAt: true, attempts: true },
      take: 1_000,
    });
    if (lost.length) {
      this.deps.logger.info({ count: lost.length }, 'Reconciler re-dispatching messages');
      await this.dispatch(lost, `r${Date.now()}`);
    }
  }
}

