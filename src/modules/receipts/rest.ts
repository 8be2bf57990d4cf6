import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { prisma } from '../../db/client.ts';
import type { Delivery } from '../../delivery/delivery.ts';
import { readBodyLimited } from '../../server/body.ts';
import { isUuid } from '../users/service.ts';
import { mailgunReceipts } from './mailgun.ts';
import type { ReplayStore } from './replay.ts';
import { sendgridReceipts } from './sendgrid.ts';
import { applyReceipts } from './service.ts';
import { twilioReceipts } from './twilio.ts';
import { WebhookRefused, type ReceiptWebhook } from './types.ts';
import { whatsappReceipts } from './whatsapp.ts';

export const RECEIPT_WEBHOOKS: ReceiptWebhook[] = [twilioReceipts, whatsappReceipts, sendgridReceipts, mailgunReceipts];
const BY_KIND = new Map(RECEIPT_WEBHOOKS.map((w) => [w.kind, w]));
const PATH = /^\/providers\/([^/]+)\/webhook\/([^/]+)\/?$/;

export interface ReceiptOptions {
  delivery: Delivery;
  logger: Logger;
  replay: ReplayStore;
  maxBodyBytes: number;
  /** How far a signed timestamp (SendGrid, Mailgun) may be from now, in seconds. */
  toleranceSeconds: number;
  /** How long the callbacks of providers that sign no timestamp (Twilio, WhatsApp) are remembered. */
  untimedReplaySeconds: number;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });

/**
 * POST /providers/{twilio|whatsapp|sendgrid|mailgun}/webhook/{providerId}: the providers'
 * delivery receipts (GET for WhatsApp's endpoint check). providerId is the ProviderConfig id,
 * which names the project and the secrets the signature is checked with. Answers: 200 with
 * counts; 400 a body that cannot be read; 401 a missing or wrong signature or a timestamp
 * outside the tolerance; 403 a replay (this exact callback was accepted before); 404 an
 * unknown kind or provider, or one without the webhook's secret; 413 over MAX_BODY_BYTES; 503
 * when the callback could not be applied now (the provider retries). Every refusal is logged.
 */
export function useProviderReceipts(options: ReceiptOptions): Plugin {
  const { delivery, logger, replay } = options;
  return {
    async onRequest({ url, request, endResponse }) {
      const match = PATH.exec(url.pathname);
      if (!match) return;
      const [, kind, providerId] = match as unknown as [string, string, string];
      const refuse = (status: number, reason: string) => {
        logger.warn({ kind, providerId, status, reason, ip: request.headers.get('x-forwarded-for') ?? undefined }, 'Provider webhook refused');
        endResponse(json(status, { error: reason }));
      };
      const webhook = BY_KIND.get(kind as ReceiptWebhook['kind']);
      if (!webhook) return refuse(404, `unknown webhook kind; one of ${[...BY_KIND.keys()].join(', ')}`);
      const handshake = request.method === 'GET' && webhook.handshake;
      if (request.method !== 'POST' && !handshake) {
        endResponse(new Response('Method not allowed', { status: 405, headers: { allow: webhook.handshake ? 'GET, POST' : 'POST' } }));
        return;
      }
      let replayKey: string | undefined;
      try {
        const config = isUuid(providerId) ? await prisma().providerConfig.findUnique({ where: { id: providerId } }) : null;
        if (!config || config.kind !== webhook.providerKind) return refuse(404, 'provider not found');
        const settings = delivery.providerSettings(config);
        const missing = webhook.requires.filter((key) => typeof settings[key] !== 'string' || settings[key] === '');
        if (missing.length) return refuse(404, `the provider has no ${missing.join(', ')}: configure it to receive ${kind} receipts`);

        const body = request.method === 'POST' ? await readBodyLimited(request, options.maxBodyBytes) : new Uint8Array(0);
        if (body === null) {
          logger.warn({ kind, providerId }, 'Provider webhook refused: body too large');
          endResponse(json(413, { error: `body larger than ${options.maxBodyBytes} bytes` }));
          return;
        }
        const incoming = { url, method: request.method, headers: request.headers, body: Buffer.from(body) };
        if (handshake) {
          endResponse(handshake(incoming, settings));
          return;
        }
        const verified = webhook.verify(incoming, settings, Math.floor(Date.now() / 1000), options.toleranceSeconds);
        const parsed = webhook.parse(incoming, settings);
        const key = `${config.id}:${verified.replayKey}`;
        const ttl = verified.timestamped ? options.toleranceSeconds * 2 : options.untimedReplaySeconds;
        if (!(await replay.claim(key, ttl))) throw new WebhookRefused(403, 'replayed callback: this one was accepted before');
        replayKey = key;
        const applied = await applyReceipts(delivery, { id: config.id, projectId: config.projectId, name: config.name }, kind, webhook.channels, parsed.receipts);
        logger.info({ kind, providerId, ...applied, ignored: parsed.ignored }, 'Provider receipts applied');
        endResponse(json(200, { ok: true, ...applied, ignored: parsed.ignored }));
      } catch (error) {
        if (error instanceof WebhookRefused) return refuse(error.status, error.message);
        // Not applied (database or Redis down): forget it, so the provider's retry is taken.
        if (replayKey) await replay.release(replayKey).catch(() => {});
        logger.error({ err: error, kind, providerId }, 'Provider webhook could not be applied');
        endResponse(json(503, { error: 'could not be applied now; retry later' }));
      }
    },
  };
}
