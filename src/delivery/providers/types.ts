import { z } from 'zod';
import type { Channel, Message, User } from '../../generated/prisma/client.ts';
import { CREDENTIALS_MESSAGE, excerpt, hasCredentials } from './outbound.ts';

/** What a provider gets for one attempt. */
export interface OutboundMessage {
  message: Message;
  user: User | null;
  /** Same for every attempt of a message: providers that support it de-duplicate on it. */
  idempotencyKey: string;
  /** The project's secret for signing outgoing HTTP (webhooks). */
  signingSecret: string;
}

export interface ProviderSettings {
  /** Non-secret settings (base URL, sender...) merged with the decrypted secrets. */
  [key: string]: unknown;
}

export interface SendOutcome {
  providerMessageId?: string | undefined;
  /** true when the channel confirms delivery itself (in-app): the message goes to DELIVERED. */
  delivered?: boolean;
}

export interface ChannelProvider {
  kind: string;
  channel: Channel;
  /**
   * What configureProvider accepts for this kind. Strict objects: a misspelt key is refused
   * when the provider is configured, not discovered at the first send.
   */
  config: { settings: z.ZodType; secrets: z.ZodType };
  /**
   * The settings that name where this kind connects (http(s) URLs, SMTP hosts): configureProvider
   * checks them against the outbound address policy, as every connection is checked again.
   */
  outbound?: { urls?: string[]; hosts?: string[] };
  /**
   * Whether this provider can send this message (default: every message of its channel). A
   * channel served by several protocols (MOBILE_PUSH: APNs or FCM, by the device's token) skips
   * the providers that cannot reach it.
   */
  accepts?(message: Message): boolean;
  send(outbound: OutboundMessage, settings: ProviderSettings): Promise<SendOutcome>;
}

/** An http(s) URL setting (base URLs are configurable so tests and proxies can stand in). */
export const httpUrl = () =>
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048)
    .refine((v) => !hasCredentials(v), CREDENTIALS_MESSAGE);
const nonEmpty = () => z.string().trim().min(1, 'must not be empty').max(1000);
export const requiredText = nonEmpty;
/** No settings or no secrets for this kind. */
export const none = () => z.object({}).strict();

/**
 * A provider failure. `permanent` ones (bad address, rejected content, bad credentials) are not
 * retried; transient ones (timeouts, 5xx, 429, connection errors) are, then fail over.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    /** A transient failure the provider said to retry no sooner than this (429 Retry-After): the retry waits at least so long. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A provider's Retry-After is honoured up to this; a longer one (or a bogus value) is cut to it. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * A Retry-After header (RFC 9110: delay-seconds, or an HTTP date) in milliseconds from now,
 * bounded by MAX_RETRY_AFTER_MS; undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1_000;
  else {
    // An HTTP date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse would also take "-5".
    if (!/[a-z]{3}/i.test(trimmed)) return undefined;
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}

/**
 * Classifies an HTTP answer the usual way: 408, 425, 429 and 5xx are worth a retry. The
 * message (stored as lastError, shown to the tenant) keeps a short sanitized excerpt of the answer.
 */
export function httpError(provider: string, status: number, detail: string): ProviderError {
  const transient = status === 408 || status === 425 || status === 429 || status >= 500;
  const shown = excerpt(detail);
  return new ProviderError(`${provider} answered ${status}${shown ? `: ${shown}` : ''}`, !transient);
}

/** Network failures (refused, reset, timeout) are transient. */
export function networkError(provider: string, error: unknown): ProviderError {
  return new ProviderError(`${provider} unreachable: ${(error as Error).message}`, false);
}
