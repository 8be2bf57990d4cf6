import nodemailer from 'nodemailer';
import { parseP256PublicKey } from '../../modules/receipts/sendgrid.ts';
import { RELAY_MESSAGE_ARG } from '../../modules/receipts/types.ts';
import { stringSetting } from './http.ts';
import { connectOutbound, excerpt, OutboundRefusedError } from './outbound.ts';
import { z } from 'zod';
import { ProviderError, requiredText, type ChannelProvider } from './types.ts';

interface EmailContent {
  subject?: string | null;
  html?: string | null;
  text?: string | null;
  from?: string | null;
  replyTo?: string | null;
}

/** nodemailer error codes that no retry can fix: the message or the configuration is wrong. */
const PERMANENT_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'ECONFIG', 'ENOAUTH', 'EMAXRECIPIENTS', 'EFILEACCESS', 'EURLACCESS', 'EREQUIRETLS']);

/**
 * Email over SMTP (nodemailer). settings: host, port (587, or 465 when secure), secure (TLS from
 * the first byte), from, replyTo, requireTLS, tlsRejectUnauthorized, sendgridWebhookPublicKey;
 * secrets: user, pass, mailgunWebhookSigningKey (the last two: delivery receipts).
 * The Message-ID is derived from the idempotency key, so a re-sent message is recognisable.
 *
 * One transport (one connection) per send: no pool outlives a configuration change or secret
 * rotation, nothing has to be closed on shutdown, and the worker concurrency already bounds the
 * number of connections. The cost is one SMTP handshake per email.
 */
export const smtpProvider: ChannelProvider = {
  kind: 'smtp',
  channel: 'EMAIL',
  config: {
    settings: z
      .object({
        host: requiredText(),
        port: z.number().int().min(1).max(65_535).optional(),
        secure: z.boolean().optional(),
        from: requiredText(),
        replyTo: requiredText().optional(),
        requireTLS: z.boolean().optional(),
        tlsRejectUnauthorized: z.boolean().optional(),
        // Delivery receipts through the relay's event webhook (src/modules/receipts/sendgrid.ts).
        sendgridWebhookPublicKey: z.string().trim().max(4000).refine(isP256PublicKey, 'must be the ECDSA (P-256) public key SendGrid shows (base64 or PEM)').optional(),
      })
      .strict(),
    secrets: z
      .object({ user: requiredText().optional(), pass: z.string().max(1000).optional(), mailgunWebhookSigningKey: requiredText().optional() })
      .strict(),
  },
  outbound: { hosts: ['host'] },
  async send({ message, idempotencyKey }, settings) {
    const content = message.content as EmailContent;
    const host = stringSetting(settings, 'host');
    if (!host) throw new ProviderError('smtp: the provider has no host setting', true);
    if (!message.to) throw new ProviderError('smtp: the message has no recipient address', true);
    const from = content.from || stringSetting(settings, 'from');
    if (!from) throw new ProviderError('smtp: no sender: set the provider’s from setting', true);
    const replyTo = content.replyTo || stringSetting(settings, 'replyTo');
    const secure = settings.secure === true || settings.secure === 'true';
    const user = stringSetting(settings, 'user');
    const port = Number(settings.port ?? (secure ? 465 : 587));
    const transport = nodemailer.createTransport({
      host,
      port,
      // Herald opens the TCP connection itself, under the outbound address policy (the name is
      // resolved and checked now, not when it was configured); nodemailer then speaks SMTP on it
      // and upgrades it to TLS itself when `secure` (or on STARTTLS).
      getSocket: (_options, callback) => {
        connectOutbound(host, port, 10_000).then(
          (connection) => callback(null, { connection }),
          (error: unknown) => callback(error as Error, undefined),
        );
      },
      secure,
      requireTLS: settings.requireTLS === true,
      tls: { rejectUnauthorized: settings.tlsRejectUnauthorized !== false },
      ...(user ? { auth: { user, pass: typeof settings.pass === 'string' ? settings.pass : '' } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    try {
      const info = await transport.sendMail({
        from,
        to: message.to,
        ...(replyTo ? { replyTo } : {}),
        subject: content.subject ?? '',
        ...(content.html ? { html: content.html } : {}),
        text: content.text ?? '',
        messageId: `<${idempotencyKey}@herald>`,
        headers: { 'X-Herald-Message-Id': message.id, ...relayHeaders(message.id, settings) },
      });
      return { providerMessageId: info.messageId };
    } catch (error) {
      throw smtpError(error);
    } finally {
      transport.close();
    }
  },
};

/** SMTP 5xx replies and unfixable envelope/config errors are permanent; 4xx replies and connection failures are transient. */
export function smtpError(error: unknown): ProviderError {
  if (error instanceof OutboundRefusedError) return new ProviderError(`smtp: ${error.message}`, true);
  const e = error as Error & { responseCode?: number; code?: string; response?: string };
  const detail = excerpt(e.response ?? e.message);
  if (typeof e.responseCode === 'number') {
    return new ProviderError(`smtp answered ${e.responseCode}: ${detail}`, e.responseCode >= 500);
  }
  return new ProviderError(`smtp ${e.code ?? 'error'}: ${detail}`, PERMANENT_CODES.has(e.code ?? ''));
}




/**
 * Headers the relay turns into fields of its webhook events, so a receipt finds its message even
 * where the relay rewrites the Message-ID: SendGrid's X-SMTPAPI unique_args and Mailgun's
 * X-Mailgun-Variables. Only for a relay the provider is set up to receive receipts from (any
 * other server would pass them on to the recipient as noise).
 */
function relayHeaders(messageId: string, settings: Record<string, unknown>): Record<string, { prepared: true; value: string }> {
  // Prepared: as written (short ASCII JSON). nodemailer would otherwise MIME-encode the quotes
  // (=?UTF-8?Q?...?=), which the relays do not decode before reading the JSON.
  const headers: Record<string, { prepared: true; value: string }> = {};
  if (stringSetting(settings, 'sendgridWebhookPublicKey')) headers['X-SMTPAPI'] = { prepared: true, value: JSON.stringify({ unique_args: { [RELAY_MESSAGE_ARG]: messageId } }) };
  if (stringSetting(settings, 'mailgunWebhookSigningKey')) headers['X-Mailgun-Variables'] = { prepared: true, value: JSON.stringify({ [RELAY_MESSAGE_ARG]: messageId }) };
  return headers;
}

function isP256PublicKey(value: string): boolean {
  try {
    parseP256PublicKey(value);
    return true;
  } catch {
    return false;
  }
}
