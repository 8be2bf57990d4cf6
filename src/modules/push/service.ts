import { z } from 'zod';
import { uuidv7 } from '../../db/ids.ts';
import { prisma } from '../../db/client.ts';
import { outboundPolicy } from '../../delivery/providers/outbound.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { badInput, issuesFrom } from '../../graphql/errors.ts';
import { findUserByRef } from '../users/service.ts';

/** base64url (padding tolerated) that decodes to exactly `bytes` bytes. */
const base64url = (bytes: number, what: string) =>
  z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url')
    .transform((v) => v.replace(/=+$/, ''))
    .refine((v) => Buffer.from(v, 'base64url').length === bytes, `must be ${what} (${bytes} bytes, base64url)`);

/** A browser's PushSubscription.toJSON(): the push service URL and the keys to encrypt for it. */
export const pushSubscriptionSchema = z.object({
  endpoint: z
    .url({ protocol: /^https$/, error: 'must be an https URL' })
    .max(2_048),
  keys: z.object({
    p256dh: base64url(65, 'an uncompressed P-256 public key').refine((v) => Buffer.from(v, 'base64url')[0] === 0x04, 'must be an uncompressed P-256 public key'),
    auth: base64url(16, 'the 16-byte auth secret'),
  }),
});
export type PushSubscriptionInput = z.input<typeof pushSubscriptionSchema>;

/**
 * Stores a browser subscription for a user. The endpoint identifies it: registering it again
 * (new keys, or another user logged in on that browser) updates the one row.
 */
export async function registerPushSubscription<Q extends object>(projectId: string, userId: string, input: PushSubscriptionInput, query: Q) {
  const parsed = pushSubscriptionSchema.safeParse(input);
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['subscription']));
  const { endpoint, keys } = parsed.data;
  // A browser's endpoint is a public push service; anything else would aim Herald's POSTs inside its network.
  const refused = await outboundPolicy().checkUrl(endpoint);
  if (refused) throw badInput([{ field: 'subscription.endpoint', message: refused }]);
  const user = await findUserByRef(projectId, userId, 'userId');
  const data = { userId: user.id, p256dh: keys.p256dh, auth: keys.auth } satisfies Partial<Prisma.PushSubscriptionUncheckedCreateInput>;
  return prisma().pushSubscription.upsert({
    ...query,
    where: { projectId_endpoint: { projectId, endpoint } },
    create: { id: uuidv7(), projectId, endpoint, ...data },
    update: data,
  });
}

/** Removes a subscription (the browser unsubscribed); false when the project has none with that endpoint. */
export async function deletePushSubscription(projectId: string, endpoint: string): Promise<boolean> {
  const deleted = await prisma().pushSubscription.deleteMany({ where: { projectId, endpoint } });
  return deleted.count > 0;
}
