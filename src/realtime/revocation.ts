import type { Logger } from 'pino';
import { prisma } from '../db/client.ts';
import { unauthenticated } from '../graphql/errors.ts';
import type { Principal } from '../modules/projects/auth.ts';
import { widgetSecretTag } from '../modules/projects/credentials.ts';
import type { HeraldPubSub, TopicName, TopicPayload } from './pubsub.ts';

/**
 * Ends the long-lived streams of this instance (websockets, SSE subscriptions) whose
 * credentials stop being valid:
 * - at once on the events every instance receives: an API key revoked, a project's widget
 *   secret rotated, a user deleted;
 * - and every `recheckMs`, by re-reading the credentials of the open streams (one query per
 *   kind, whatever their number): a change made without an event (a key revoked or a user
 *   deleted in SQL, an event lost while Redis was down) ends its streams within that time.
 * Websockets close with 4403; SSE streams answer UNAUTHENTICATED, then `complete`.
 */
export function watchCredentials(pubsub: HeraldPubSub, options: { recheckMs: number; logger?: Pick<Logger, 'info' | 'warn'> }) {
  const { recheckMs, logger } = options;
  const revoke = (why: string, matches: (p: Principal) => boolean) => {
    const ended = pubsub.streams.revoke(matches, unauthenticated(`The credentials of this stream are no longer valid: ${why}`));
    if (ended) logger?.info({ ended, why }, 'Ended streams whose credentials are no longer valid');
  };

  const listeners = [
    listen(pubsub, 'apiKeyRevoked', (e) => revoke('API key revoked', (p) => p.kind === 'apiKey' && p.keyId === e.keyId)),
    listen(pubsub, 'widgetSecretRotated', (e) => revoke('widget secret rotated', (p) => p.kind === 'endUser' && p.projectId === e.projectId)),
    listen(pubsub, 'userDeleted', (e) => revoke('user deleted', (p) => p.kind === 'endUser' && p.userId === e.userId)),
    listen(pubsub, 'tenantDeleted', (e) => revoke('tenant deleted', (p) => p.kind === 'endUser' && p.tenant?.id === e.tenantId)),
  ];

  let running: Promise<void> | undefined;
  const timer =
    recheckMs > 0
      ? setInterval(() => {
          running ??= recheck()
            .catch((error: unknown) => logger?.warn({ err: error }, 'Could not re-check the credentials of open streams'))
            .finally(() => (running = undefined));
        }, recheckMs)
      : undefined;
  timer?.unref();

  async function recheck() {
    const principals = pubsub.streams.principals();
    if (principals.length === 0) return;
    // Only the streams whose credentials were read: one opened while the queries ran (a crowd of
    // widgets connecting) is not in their answers, and ended as "user deleted" (78 of 10,000).
    const read = new Set(principals);
    const revokeRead = (why: string, matches: (p: Principal) => boolean) => revoke(why, (p) => read.has(p) && matches(p));
    const keyIds = new Set<string>();
    const projectIds = new Set<string>();
    const userIds = new Set<string>();
    const tenantIds = new Set<string>();
    for (const p of principals) {
      if (p.kind === 'apiKey') keyIds.add(p.keyId);
      else {
        projectIds.add(p.projectId);
        if (p.userId) userIds.add(p.userId);
        if (p.tenant) tenantIds.add(p.tenant.id);
      }
    }
    const [keys, projects, users, tenants] = await Promise.all([
      keyIds.size ? prisma().apiKey.findMany({ where: { id: { in: [...keyIds] }, revokedAt: null }, select: { id: true } }) : [],
      projectIds.size ? prisma().project.findMany({ where: { id: { in: [...projectIds] } }, select: { id: true, widgetSecret: true } }) : [],
      userIds.size ? prisma().user.findMany({ where: { id: { in: [...userIds] } }, select: { id: true } }) : [],
      tenantIds.size ? prisma().tenant.findMany({ where: { id: { in: [...tenantIds] } }, select: { id: true } }) : [],
    ]);
    const validKeys = new Set(keys.map((k) => k.id));
    const secretTags = new Map(projects.map((p) => [p.id, widgetSecretTag(p.widgetSecret)]));
    const validUsers = new Set(users.map((u) => u.id));
    revokeRead('API key revoked', (p) => p.kind === 'apiKey' && !validKeys.has(p.keyId));
    revokeRead('widget secret rotated', (p) => p.kind === 'endUser' && secretTags.get(p.projectId) !== p.secretTag);
    revokeRead('user deleted', (p) => p.kind === 'endUser' && p.userId !== null && !validUsers.has(p.userId));
    const validTenants = new Set(tenants.map((t) => t.id));
    revokeRead('tenant deleted', (p) => p.kind === 'endUser' && p.tenant !== undefined && !validTenants.has(p.tenant.id));
  }

  return {
    /** Re-checks now (tests). */
    recheck,
    async stop() {
      if (timer) clearInterval(timer);
      await Promise.all(listeners.map((l) => l.return?.()));
      await running;
    },
  };
}

function listen<T extends TopicName>(pubsub: HeraldPubSub, topic: T, handle: (payload: TopicPayload<T>) => void) {
  // Not bounded like a client's subscription: these events are rare and taken at once.
  const subscribe = pubsub.subscribe as (topic: T, options: { maxBuffered: number }) => AsyncIterableIterator<TopicPayload<T>>;
  const subscription = subscribe.call(pubsub, topic, { maxBuffered: 1_000_000 });
  void (async () => {
    for await (const event of subscription) handle(event);
  })();
  return subscription;
}
