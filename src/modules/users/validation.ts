import { z } from 'zod';
import { SLACK_CHANNEL } from '../../delivery/providers/slack.ts';
import { CREDENTIALS_MESSAGE, hasCredentials } from '../../delivery/providers/outbound.ts';

/** Profile rules shared by users.upsert and the user* fields of sends. */

const E164 = /^\+[1-9]\d{6,14}$/;

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

const optionalText = (max: number) => z.string().trim().min(1).max(max).nullish();

export const MAX_CUSTOM_BYTES = 16_384;

/** A webhook URL given as a user's chat address (Teams, Discord, a Slack Incoming Webhook). */
const webhookUrl = (what: string) =>
  z
    .string()
    .trim()
    .max(2048)
    .pipe(z.url({ protocol: /^https?$/, error: `must be ${what} (an http(s) URL)` }))
    .refine((v) => !hasCredentials(v), CREDENTIALS_MESSAGE);

/**
 * A user's chat addresses. null (or a missing key) for none: the provider's project default is
 * used. In OVERWRITE mode a null removes the stored address.
 */
export const chatAddressesSchema = z
  .object({
    slack: z
      .string()
      .trim()
      .max(2048)
      .superRefine((v, ctx) => {
        // Too long is already reported by max().
        if (SLACK_CHANNEL.test(v) || v.length > 2048) return;
        const message = !z.url({ protocol: /^https?$/ }).safeParse(v).success
          ? 'must be a Slack channel or user id (C0123ABCD, U0123ABCD), a #channel name, or an Incoming Webhook URL'
          : hasCredentials(v)
            ? CREDENTIALS_MESSAGE
            : null;
        if (message) ctx.addIssue({ code: 'custom', message });
      })
      .nullish(),
    msTeams: webhookUrl('a Teams Workflows or incoming webhook URL').nullish(),
    discord: webhookUrl('a Discord webhook URL').nullish(),
  })
  .strict();

export const userProfileSchema = z.object({
  externalId: z.string().trim().min(1, 'is required').max(256),
  email: z.string().trim().max(320).pipe(z.email('must be an email address')).nullish(),
  // Clients send "+44 7911 123456" (Notifuse's own example): keep the digits, require E.164. It
  // is stored (and returned) so: one canonical form is what SMS providers take, what NP6 unicity
  // lookups and contact hashes compare, and what "fill if missing" sees (README: deliberate differences).
  // "00" is the international prefix dialled from most countries: "0044 ..." is "+44 ...".
  telephone: z
    .string()
    .transform((v) => v.replace(/[\s().-]/g, '').replace(/^00/, '+'))
    .refine((v) => E164.test(v), 'must be an international number in E.164 format, e.g. +447911123456')
    .nullish(),
  language: z
    .string()
    .trim()
    .regex(/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/, 'must be a language tag such as "en" or "fr-FR"')
    .transform((v) => v.replaceAll('_', '-'))
    .nullish(),
  timezone: z.string().trim().refine(isTimeZone, 'must be an IANA time zone such as "Europe/London"').nullish(),
  firstName: optionalText(200),
  lastName: optionalText(200),
  photoURL: z
    .string()
    .trim()
    .max(2048)
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
    .nullish(),
  country: z
    .string()
    .trim()
    .transform((v) => v.toUpperCase())
    .refine((v) => /^[A-Z]{2}$/.test(v) && ![undefined, 'Unknown Region'].includes(regionNames.of(v)), 'must be an ISO 3166-1 alpha-2 code such as "GB"')
    .nullish(),
  custom: z
    .record(z.string(), z.unknown())
    .refine((v) => JSON.stringify(v).length <= MAX_CUSTOM_BYTES, `must be at most ${MAX_CUSTOM_BYTES} bytes of JSON`)
    .nullish(),
  chat: chatAddressesSchema.nullish(),
});

export type UserProfileInput = z.input<typeof userProfileSchema>;
export type UserProfile = z.output<typeof userProfileSchema>;
