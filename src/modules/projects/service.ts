import { randomBytes } from 'node:crypto';
import { prisma } from '../../db/client.ts';
import { outboundPolicy } from '../../delivery/providers/outbound.ts';
import { badInput, notFound } from '../../graphql/errors.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { formatApiKey, hashSecret, newKeyId, newSecret } from './credentials.ts';
import { forgetKey } from './key-cache.ts';

export interface NewProjectCredentials {
  projectId: string;
  keyId: string;
  keySecret: string;
  apiKey: string;
  widgetSecret: string;
}

/** Creates a project with its first API key. The secrets are returned here and never again. */
export async function createProject(name: string): Promise<NewProjectCredentials> {
  const widgetSecret = randomBytes(32).toString('hex');
  const keyId = newKeyId();
  const keySecret = newSecret();
  const project = await prisma().project.create({
    data: { name, widgetSecret, signingSecret: randomBytes(32).toString('hex'), apiKeys: { create: { id: keyId, name: 'default', secretHash: hashSecret(keySecret) } } },
  });
  return { projectId: project.id, keyId, keySecret, apiKey: formatApiKey(keyId, keySecret), widgetSecret };
}

export async function createApiKey(projectId: string, name: string) {
  const keySecret = newSecret();
  const key = await prisma().apiKey.create({
    data: { id: newKeyId(), name, projectId, secretHash: hashSecret(keySecret) },
  });
  return { key, keySecret, apiKey: formatApiKey(key.id, keySecret) };
}

/** Revokes a key of the caller's project; a key of another project is "not found". */
export async function revokeApiKey(projectId: string, keyId: string, pubsub: HeraldPubSub) {
  const key = await prisma().apiKey.findFirst({ where: { id: keyId, projectId } });
  if (!key) throw notFound('ApiKey', keyId);
  if (key.revokedAt) return key;
  const revoked = await prisma().apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
  // Forgotten here before answering; the other instances forget it on this event, which also
  // closes open websockets authenticated with it.
  forgetKey(key.id);
  pubsub.publish('apiKeyRevoked', { projectId, keyId, at: revoked.revokedAt!.toISOString() });
  return revoked;
}

export interface ProjectSettings {
  name?: string | null | undefined;
  unicityField?: string | null | undefined;
  stackTimeoutSeconds?: number | null | undefined;
  /** null clears it; undefined leaves it alone. */
  statusWebhookUrl?: string | null | undefined;
  /** null: keep forever; undefined leaves it alone (both retention settings). */
  retentionDays?: number | null | undefined;
  inboxArchivedRetentionDays?: number | null | undefined;
}

/** Updates the calling project's settings; absent fields keep their value. */
export async function updateProjectSettings(projectId: string, settings: ProjectSettings) {
  // The status webhook is POSTed to for every message: it must be a public address (checked again on every POST).
  if (settings.statusWebhookUrl) {
    const refused = await outboundPolicy().checkUrl(settings.statusWebhookUrl);
    if (refused) throw badInput([{ field: 'input.statusWebhookUrl', message: refused }]);
  }
  return prisma().project.update({
    where: { id: projectId },
    data: {
      ...(settings.name != null ? { name: settings.name } : {}),
      ...(settings.unicityField != null ? { unicityField: settings.unicityField } : {}),
      ...(settings.stackTimeoutSeconds != null ? { stackTimeoutSeconds: settings.stackTimeoutSeconds } : {}),
      ...(settings.statusWebhookUrl !== undefined ? { statusWebhookUrl: settings.statusWebhookUrl } : {}),
      ...(settings.retentionDays !== undefined ? { retentionDays: settings.retentionDays } : {}),
      ...(settings.inboxArchivedRetentionDays !== undefined ? { inboxArchivedRetentionDays: settings.inboxArchivedRetentionDays } : {}),
    },
  });
}

/**
 * Replaces a project secret. The old one stops working at once: for the widget secret, every
 * end user's hash changes (the app's backend must compute them with the new one); for the
 * signing secret, receivers must verify with the new one.
 */
export async function rotateProjectSecret(projectId: string, secret: 'widgetSecret' | 'signingSecret', pubsub?: HeraldPubSub): Promise<string> {
  const value = randomBytes(32).toString('hex');
  await prisma().project.update({ where: { id: projectId }, data: { [secret]: value } });
  // End-user streams opened with the old secret end on every instance (realtime/revocation.ts).
  if (secret === 'widgetSecret') pubsub?.publish('widgetSecretRotated', { projectId, at: new Date().toISOString() });
  return value;
}
