import { timingSafeEqual } from 'node:crypto';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { hashSecret } from './credentials.ts';

/**
 * Verified API keys, remembered for a few seconds so that a busy client's requests do not each
 * read its key (one ORM call was a tenth of a 50-message send's CPU). An entry holds the stored
 * secret hash: a hit still compares the presented secret's hash in constant time, so a wrong
 * secret never passes on a cached key id (it goes to the database and counts as a failure there).
 *
 * Revocation takes effect at once: revokeApiKey forgets the key on its own instance before it
 * answers, and every instance forgets it on the apiKeyRevoked event (watchKeyRevocations).
 * A lookup that was in flight when a revocation arrived is not cached (the epoch check), so it
 * cannot put the revoked key back. If the event is lost (Redis down at that moment) another
 * instance may accept the key for at most API_KEY_CACHE_TTL_MS more.
 */
export const API_KEY_CACHE_TTL_MS = 10_000;
/** Distinct keys held; past it the oldest entry goes (Map order is insertion order). */
const MAX_ENTRIES = 10_000;

interface Entry {
  projectId: string;
  secretHash: Buffer;
  expiresAt: number;
}

const entries = new Map<string, Entry>();
let epoch = 0;

/** The key's project when this key id and secret were verified less than the TTL ago. */
export function cachedKey(keyId: string, secret: string, now = Date.now()): { projectId: string } | null {
  const entry = entries.get(keyId);
  if (!entry) return null;
  if (entry.expiresAt <= now) {
    entries.delete(keyId);
    return null;
  }
  const presented = Buffer.from(hashSecret(secret), 'hex');
  return presented.length === entry.secretHash.length && timingSafeEqual(presented, entry.secretHash) ? { projectId: entry.projectId } : null;
}

/** A mark taken before reading a key: rememberKey ignores the read if a revocation came since. */
export function keyCacheEpoch(): number {
  return epoch;
}

/** Remembers a key just verified against the database (not revoked, secret matching). */
export function rememberKey(keyId: string, projectId: string, storedHash: string, readAt: number): void {
  if (readAt !== epoch) return;
  if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  entries.delete(keyId);
  entries.set(keyId, { projectId, secretHash: Buffer.from(storedHash, 'hex'), expiresAt: Date.now() + API_KEY_CACHE_TTL_MS });
}

/** Forgets a key (revoked here or on another instance). */
export function forgetKey(keyId: string): void {
  epoch++;
  entries.delete(keyId);
}

/**
 * Forgets every key revoked on any instance, as the event arrives. Answers a function that stops
 * listening. Also called when the process starts: nothing is cached yet, so nothing is missed.
 */
export function watchKeyRevocations(pubsub: HeraldPubSub): () => Promise<void> {
  let stopped = false;
  let revocations = pubsub.subscribe('apiKeyRevoked');
  void (async () => {
    while (!stopped) {
      try {
        for await (const event of revocations) forgetKey(event.keyId);
        return;
      } catch {
        // The subscription failed (e.g. SLOW_CONSUMER after a burst of revocations): events may
        // have been dropped, so nothing cached can be trusted. Forget everything and listen again.
        epoch++;
        entries.clear();
        if (!stopped) revocations = pubsub.subscribe('apiKeyRevoked');
      }
    }
  })();
  return async () => {
    stopped = true;
    await revocations.return?.();
  };
}
