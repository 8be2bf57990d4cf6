import { OutboundRefusedError, sendOutbound } from './outbound.ts';
import { networkError, ProviderError } from './types.ts';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** How long a provider's API may take to answer one request before the attempt counts as transient. */
export const PROVIDER_TIMEOUT_MS = 15_000;

/** What callProvider sends: a method, headers as a plain object, a string or byte body. */
export interface ProviderRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | null;
}

/**
 * One HTTP call to a provider's API, under the outbound address policy (outbound.ts). Network
 * failures (refused, reset, DNS, timeout) become transient ProviderErrors, a refused address a
 * permanent one; the caller classifies the answer's status.
 */
export async function callProvider(provider: string, url: string, init: ProviderRequest): Promise<HttpAnswer> {
  let status: number;
  let headers: Headers;
  let text: string;
  try {
    ({ status, headers, text } = await sendOutbound(url, { ...init, timeoutMs: PROVIDER_TIMEOUT_MS }));
  } catch (error) {
    if (error instanceof OutboundRefusedError) throw new ProviderError(`${provider}: ${error.message}`, true);
    throw networkError(provider, error);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status, headers, text, json };
}

/** A string setting, or undefined when absent or empty. */
export function stringSetting(settings: Record<string, unknown>, key: string): string | undefined {
  const value = settings[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The base URL setting without its trailing slash. */
export function baseUrl(settings: Record<string, unknown>, fallback: string): string {
  return (stringSetting(settings, 'baseUrl') ?? fallback).replace(/\/+$/, '');
}
