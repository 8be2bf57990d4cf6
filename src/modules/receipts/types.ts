import { createHash, timingSafeEqual } from 'node:crypto';
import type { Channel } from '../../generated/prisma/client.ts';

/** The field of the relays' events that names the Herald message (SendGrid unique_args, Mailgun user-variables). */
export const RELAY_MESSAGE_ARG = 'herald_message_id';

/** The statuses a receipt can move a message to (always forwards, see service.ts). */
export type ReceiptStatus = 'DELIVERED' | 'READ' | 'BOUNCED' | 'FAILED';
/** What a receipt reports without a status change (MessageEvent.kind). */
export type ReceiptKind = 'OPENED' | 'CLICKED' | 'DEFERRED' | 'COMPLAINED';

/** One event of a provider callback, as Herald understands it. */
export interface Receipt {
  /** Herald's message id, where the provider echoes it (the relays' custom argument). */
  messageId?: string | null;
  /** The provider's message id, as Message.providerMessageId holds it (when messageId is unknown). */
  providerMessageId?: string | null;
  status?: ReceiptStatus;
  kind?: ReceiptKind;
  /** The provider's words: bounce reason, error code and text. */
  reason?: string | null;
  /** The link of a click. */
  url?: string | null;
  /** The address is to be suppressed (hard bounce, spam report). */
  suppress?: boolean;
}

export interface ParsedCallback {
  receipts: Receipt[];
  /** Events Herald has nothing to do with (Twilio "queued", SendGrid "processed", other numbers...). */
  ignored: number;
}

/** What a webhook handler gets: the request as received, the body unparsed (signatures cover its bytes). */
export interface WebhookRequest {
  url: URL;
  method: string;
  headers: Headers;
  body: Buffer;
}

/** The callback is refused with this HTTP status (and logged). */
export class WebhookRefused extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

export interface Verified {
  /** What identifies this exact callback in the replay store. */
  replayKey: string;
  /** Whether the provider signs a timestamp (checked against the tolerance): the replay key then lives for twice the tolerance. */
  timestamped: boolean;
}

/** One provider's webhook: how it is verified and what its events mean. */
export interface ReceiptWebhook {
  /** The path segment: /providers/<kind>/webhook/<providerId>. */
  kind: 'twilio' | 'whatsapp' | 'sendgrid' | 'mailgun';
  /** The ProviderConfig kind whose messages it reports on. */
  providerKind: string;
  channels: Channel[];
  /** The settings (secrets included) the verification needs; missing: the endpoint answers 404. */
  requires: string[];
  /** Throws WebhookRefused. `now` in seconds. */
  verify(request: WebhookRequest, settings: Record<string, unknown>, now: number, toleranceSeconds: number): Verified;
  /** Throws WebhookRefused(400) on a body it cannot read. */
  parse(request: WebhookRequest, settings: Record<string, unknown>): ParsedCallback;
  /** A GET the provider sends to check the endpoint (WhatsApp's hub.challenge). */
  handshake?(request: WebhookRequest, settings: Record<string, unknown>): Response;
}

/** Constant-time comparison of two strings (signatures, tokens). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const sha256Hex = (...parts: (string | Buffer)[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

/** The timestamp (unix seconds, as text) is within the tolerance of now. */
export function checkTimestamp(value: string | null | undefined, now: number, toleranceSeconds: number): number {
  if (!value || !/^\d{1,12}$/.test(value)) throw new WebhookRefused(401, 'missing or malformed timestamp');
  const t = Number(value);
  if (Math.abs(now - t) > toleranceSeconds) throw new WebhookRefused(401, `timestamp outside the ${toleranceSeconds} s tolerance`);
  return t;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookRefused(400, 'the body is not JSON');
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);
/** A short single-line reason (it is stored as lastError and MessageEvent.error). */
export const reasonOf = (...parts: unknown[]): string | null => {
  const joined = parts
    .map(text)
    .filter((p): p is string => p !== null)
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return joined ? joined.slice(0, 500) : null;
};
