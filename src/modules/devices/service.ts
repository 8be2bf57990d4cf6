import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import type { DevicePlatform, PushService } from '../../generated/prisma/client.ts';
import { badInput, issuesFrom, notFound } from '../../graphql/errors.ts';
import { findUserByRef, isUuid } from '../users/service.ts';

/** The service a platform's token belongs to when the app does not say: iOS apps hand APNs tokens. */
const DEFAULT_SERVICE: Record<DevicePlatform, PushService> = { IOS: 'APNS', ANDROID: 'FCM', WEB: 'FCM' };

export const deviceSchema = z
  .object({
    platform: z.enum(['IOS', 'ANDROID', 'WEB']),
    service: z.enum(['APNS', 'FCM']).nullish(),
    token: z.string().trim().min(1, 'must not be empty').max(4_096),
    appId: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(255)
      .regex(/^[A-Za-z0-9._:\-]+$/, 'must be a bundle id, package name or Firebase app id (letters, digits, . _ : -)')
      .nullish(),
  })
  .transform((d) => ({ ...d, service: d.service ?? DEFAULT_SERVICE[d.platform] }))
  .superRefine((d, ctx) => {
    // APNs device tokens are hex (32 bytes today; Apple says their length may grow); FCM
    // registration tokens are URL-safe text. A wrong one is refused now, not at the first push.
    if (d.service === 'APNS' && !/^[0-9a-fA-F]{64,200}$/.test(d.token)) ctx.addIssue({ code: 'custom', path: ['token'], message: 'an APNs device token is 64 or more hex digits' });
    if (d.service === 'FCM' && !/^[A-Za-z0-9_:\-.]{20,4096}$/.test(d.token)) ctx.addIssue({ code: 'custom', path: ['token'], message: 'an FCM registration token is 20 to 4096 characters of A-Z a-z 0-9 _ : - .' });
  });
export type DeviceInput = z.input<typeof deviceSchema>;

/**
 * Registers (or moves) a device for a user. The token identifies the device in the project:
 * registering it again updates the one row, for whichever user is now signed in on it.
 */
export async function registerDevice<Q extends object>(projectId: string, userId: string, input: DeviceInput, query: Q) {
  const parsed = deviceSchema.safeParse(input);
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['device']));
  const { platform, service, token, appId } = parsed.data;
  const data = { userId, platform, service, appId: appId ?? null };
  return prisma().device.upsert({
    ...query,
    where: { projectId_token: { projectId, token } },
    create: { id: uuidv7(), projectId, token, ...data },
    update: data,
  });
}

/** registerDevice for an operator: the user by Herald id or externalId. */
export async function registerUserDevice<Q extends object>(projectId: string, userRef: string, input: DeviceInput, query: Q) {
  // Checked before the user lookup: a bad device is BAD_USER_INPUT whoever it is for.
  const parsed = deviceSchema.safeParse(input);
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['device']));
  const user = await findUserByRef(projectId, userRef, 'userId');
  return registerDevice(projectId, user.id, input, query);
}

/** Removes a device by id (an operator); NOT_FOUND when the project has none with that id. */
export async function unregisterDevice(projectId: string, id: string): Promise<string> {
  const deleted = isUuid(id) ? await prisma().device.deleteMany({ where: { id: id.toLowerCase(), projectId } }) : { count: 0 };
  if (deleted.count === 0) throw notFound('Device', id);
  return id;
}

/** Removes the calling end user's device with this token; false when they have none with it. */
export async function unregisterMyDevice(projectId: string, userId: string | null, token: string): Promise<boolean> {
  if (!userId || token.length > 4_096) return false;
  const deleted = await prisma().device.deleteMany({ where: { projectId, userId, token: token.trim() } });
  return deleted.count > 0;
}
