import { z } from 'zod';
import { prisma } from '../../db/client.ts';
import type { Channel, Message } from '../../generated/prisma/client.ts';
import { badInput, issuesFrom } from '../../graphql/errors.ts';
import { CHANNELS } from '../notifications/content.ts';

/**
 * A user's opt-outs. `channels`: channels muted for everything; `categories`: notification
 * categories muted on every channel; `notifications`: per notification (id or key), the muted
 * channels. Critical messages (the notification's settings.urgent) are delivered regardless.
 */
const fields = {
  channels: z.array(z.enum(CHANNELS)).max(CHANNELS.length),
  categories: z.array(z.string().trim().min(1).max(100)).max(100),
  notifications: z
    .record(z.string().max(128), z.array(z.enum(CHANNELS)).max(CHANNELS.length))
    .refine((v) => Object.keys(v).length <= 500, 'at most 500 notifications'),
};
export const preferencesSchema = z.object({
  channels: fields.channels.default([]),
  categories: fields.categories.default([]),
  notifications: fields.notifications.default({}),
});
/**
 * Preferences as stored: only the parts that were given. A part a user never set is absent, so
 * the default of the send's tenant applies to it (see mutedReason); one they set, even to an
 * empty list, is their own choice and wins.
 */
const givenSchema = z.object({ channels: fields.channels.nullish(), categories: fields.categories.nullish(), notifications: fields.notifications.nullish() });
export type StoredPreferences = Partial<z.output<typeof preferencesSchema>>;
export type Preferences = z.output<typeof preferencesSchema>;

export function readPreferences(stored: unknown): Preferences {
  const parsed = preferencesSchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : { channels: [], categories: [], notifications: {} };
}

export function parsePreferences(input: unknown): Preferences {
  const parsed = preferencesSchema.safeParse(input ?? {});
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['preferences']));
  return parsed.data;
}

/** The parts given (null and absent ones left out), validated like parsePreferences. */
export function parseGivenPreferences(input: unknown): StoredPreferences {
  const parsed = givenSchema.safeParse(input ?? {});
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['preferences']));
  return Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v != null)) as StoredPreferences;
}

/** Replaces the user's preferences with the parts given (read back, an absent part is empty). */
export async function setPreferences(projectId: string, userId: string, input: unknown): Promise<Preferences> {
  const preferences = parseGivenPreferences(input);
  await prisma().user.update({ where: { id: userId, projectId }, data: { preferences } });
  return readPreferences(preferences);
}

const isEmpty = (stored: unknown) => stored == null || (typeof stored === 'object' && Object.keys(stored).length === 0);

/** The stored parts of a preferences value (an unreadable one counts as none set). */
function readGiven(stored: unknown): StoredPreferences {
  if (isEmpty(stored)) return {};
  const parsed = givenSchema.safeParse(stored);
  if (!parsed.success) return {};
  return Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v != null)) as StoredPreferences;
}

/**
 * Why this message must not go out, or null. Pure: the caller reads the user's preferences, the
 * message's tenant's default preferences and the notification's key at delivery time (the
 * delivery worker does so in its claim statement), so a user who mutes a channel stops scheduled
 * messages too. The tenant's defaults apply part by part where the user has set nothing:
 * `channels` and `categories` are the user's list when they set one (even an empty one), else
 * the tenant's; per notification, the user's entry for it (under its id or key) when there is
 * one, else the tenant's.
 */
export function mutedReason(
  message: Pick<Message, 'userId' | 'channel' | 'critical' | 'category' | 'notificationId'>,
  stored: { preferences: unknown; notificationKey: string | null; tenantPreferences?: unknown },
): string | null {
  if (message.critical || !message.userId) return null;
  // Most users never set any: nothing is muted, without a schema parse per delivered message.
  if (isEmpty(stored.preferences) && isEmpty(stored.tenantPreferences)) return null;
  const user = readGiven(stored.preferences);
  const tenant = readGiven(stored.tenantPreferences);
  const whose = (part: keyof StoredPreferences) => (user[part] !== undefined ? 'the user\'s preferences' : 'the tenant\'s default preferences');
  const channel = message.channel as Channel;
  const channels = user.channels ?? tenant.channels ?? [];
  if (channels.includes(channel)) return `muted by ${whose('channels')} (channel ${channel})`;
  const categories = user.categories ?? tenant.categories ?? [];
  if (message.category && categories.includes(message.category)) return `muted by ${whose('categories')} (category ${message.category})`;
  if (message.notificationId != null) {
    const keys = [String(message.notificationId), stored.notificationKey].filter((k): k is string => Boolean(k));
    const entries = (prefs: StoredPreferences) => keys.flatMap((k) => prefs.notifications?.[k] ?? []);
    const own = keys.some((k) => user.notifications?.[k] !== undefined);
    const muted = own ? entries(user) : entries(tenant);
    if (muted.includes(channel)) {
      return `muted by ${own ? "the user's preferences" : "the tenant's default preferences"} (notification ${stored.notificationKey ?? message.notificationId}, channel ${channel})`;
    }
  }
  return null;
}
