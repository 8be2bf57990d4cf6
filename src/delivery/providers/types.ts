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
  ) {
    super(message);
  }
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
