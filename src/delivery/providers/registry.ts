import type { Channel } from '../../generated/prisma/client.ts';
import type { HeraldPubSub } from '../../realtime/pubsub.ts';
import { apnsProvider } from './apns.ts';
import { fcmProvider } from './fcm.ts';
import { inAppProvider } from './in-app.ts';
import { smtpProvider } from './smtp.ts';
import { twilioProvider } from './twilio.ts';
import type { ChannelProvider } from './types.ts';
import { webhookProvider } from './webhook.ts';
import { webPushProvider } from './web-push.ts';
import { whatsappCloudProvider } from './whatsapp-cloud.ts';
import { slackProvider } from './slack.ts';
import { msTeamsProvider } from './ms-teams.ts';
import { discordProvider } from './discord.ts';

/** Provider kinds by name. Each module implements one protocol; the kinds are what ProviderConfig.kind names. */
export function createProviderRegistry(pubsub: HeraldPubSub): Map<string, ChannelProvider> {
  const providers: ChannelProvider[] = [inAppProvider(pubsub), webhookProvider, smtpProvider, twilioProvider, whatsappCloudProvider, webPushProvider];
  // Chat (issue 13).
  providers.push(slackProvider, msTeamsProvider, discordProvider);
  providers.push(fcmProvider, apnsProvider);
  return new Map(providers.map((p) => [p.kind, p]));
}

/** Channels that work with no configuration: the built-in provider is used when a project configured none. */
export const BUILT_IN: Partial<Record<Channel, string>> = { IN_APP: 'in-app', WEBHOOK: 'webhook' };
