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
export const preferencesSchema = z.object({
  channels: z.array(z.enum(CHANNELS)).max(CHANNELS.length).default([]),
  categories: z.array(z.string().trim().min(1).max(100)).max(100).default([]),
  notifications: z
    .record(z.string().max(128), z.array(z.enum(CHANNELS)).max(CHANNELS.length))
    .refine((v) => Object.keys(v).length <= 500, 'at most 500 notifications')
    .default({}),
});
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

export async function setPreferences(projectId: string, userId: string, input: unknown): Promise<Preferences> {
  const preferences = parsePreferences(input);
  await prisma().user.update({ where: { id: userId, projectId }, data: { preferences } });
  return preferences;
}

/**
 * Why this message must not go out, or null. Pure: the caller reads the user's preferences and
 * the notification's key at delivery time (the delivery worker does so in its claim statement),
 * so a user who mutes a channel stops scheduled messages too.
 */
export function mutedReason(
  message: Pick<Message, 'userId' | 'channel' | 'critical' | 'category' | 'notificationId'>,
  stored: { preferences: unknown; notificationKey: string | null },
): string | null {
  if (message.critical || !message.userId) return null;
  // Most users never set any: nothing is muted, without a schema parse per delivered message.
  if (stored.preferences == null || (typeof stored.preferences === 'object' && Object.keys(stored.preferences).length === 0)) return null;
  const prefs = readPreferences(stored.preferences);
  const channel = message.channel as Channel;
  if (prefs.channels.includes(channel)) return `muted by the user's preferences (channel ${channel})`;
  if (message.category && prefs.categories.includes(message.category)) return `muted by the user's preferences (category ${message.category})`;
  if (message.notificationId != null) {
    const muted = [String(message.notificationId), stored.notificationKey].flatMap((k) => (k ? (prefs.notifications[k] ?? []) : []));
    if (muted.includes(channel)) return `muted by the user's preferences (notification ${stored.notificationKey ?? message.notificationId}, channel ${channel})`;
  }
  return null;
}
