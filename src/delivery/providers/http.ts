import { networkError } from './types.ts';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** How long a provider's API may take to answer one request before the attempt counts as transient. */
export const PROVIDER_TIMEOUT_MS = 15_000;

/**
 * One HTTP call to a provider's API. Network failures (refused, reset, DNS, timeout) become
 * transient ProviderErrors; the caller classifies the answer's status.
 */
export async function callProvider(provider: string, url: string, init: RequestInit): Promise<HttpAnswer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS), ...init });
    text = await response.text();
  } catch (error) {
    throw networkError(provider, error);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
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
