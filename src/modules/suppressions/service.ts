import { uuidv7 } from '../../db/ids.ts';
import { z } from 'zod';
import { prisma, rawQuery } from '../../db/client.ts';
import type { Channel, Prisma, PrismaClient, Suppression } from '../../generated/prisma/client.ts';
import { badInput, conflict, issuesFrom, notFound } from '../../graphql/errors.ts';

/** The channels whose messages carry an address that can be suppressed. */
export const SUPPRESSIBLE = ['EMAIL', 'SMS', 'WHATSAPP'] as const satisfies readonly Channel[];
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * The one form an address is compared in: emails lower-cased (a bounce report and the user's
 * profile may differ in case), numbers with the separators users' profiles drop (users/validation.ts).
 */
export function normalizeAddress(channel: Channel, address: string): string {
  const trimmed = address.trim();
  if (channel === 'EMAIL') return trimmed.toLowerCase();
  if (channel === 'SMS' || channel === 'WHATSAPP') return trimmed.replace(/[\s().-]/g, '').replace(/^00/, '+');
  return trimmed;
}

const addSchema = z
  .object({
    channel: z.enum(SUPPRESSIBLE, { error: `must be one of ${SUPPRESSIBLE.join(', ')}` }),
    address: z.string().trim().min(1, 'is required').max(320),
    reason: z.string().trim().max(500).nullish(),
  })
  .transform((v) => ({ ...v, address: normalizeAddress(v.channel, v.address) }))
  .superRefine((v, ctx) => {
    const valid = v.channel === 'EMAIL' ? z.email().safeParse(v.address).success : E164.test(v.address);
    if (!valid) ctx.addIssue({ code: 'custom', path: ['address'], message: v.channel === 'EMAIL' ? 'must be an email address' : 'must be an international number in E.164 format, e.g. +447911123456' });
  });

export interface AddSuppressionInput {
  channel: string;
  address: string;
  reason?: string | null;
}

/** An operator suppresses an address; CONFLICT when it already is. */
export async function addSuppression(projectId: string, input: AddSuppressionInput): Promise<Suppression> {
  const parsed = addSchema.safeParse(input);
  if (!parsed.success) throw badInput(issuesFrom(parsed.error.issues, ['input']));
  const { channel, address, reason } = parsed.data;
  const [row] = await prisma().suppression.createManyAndReturn({
    data: [{ id: uuidv7(), projectId, channel, address, reason: reason || 'added by an operator', source: 'manual' }],
    skipDuplicates: true,
  });
  if (!row) throw conflict(`${channel} address ${address} is already suppressed`);
  return row;
}

export async function removeSuppression(projectId: string, id: string): Promise<string> {
  const removed = z.uuid().safeParse(id).success ? await prisma().suppression.deleteMany({ where: { id, projectId } }) : { count: 0 };
  if (removed.count === 0) throw notFound('Suppression', id);
  return id;
}

/** Where accept.ts runs its statements: the caller's transaction, or the client alone. */
type Db = Prisma.TransactionClient | PrismaClient;

/**
 * Which of these (channel, address) pairs the project suppresses, in ONE statement for a whole
 * accepted batch: the reason of each, by "<channel>:<normalized address>".
 */
export async function suppressedAmong(db: Db, projectId: string, pairs: { channel: Channel; address: string }[]): Promise<Map<string, string>> {
  const wanted = pairs.filter((p) => (SUPPRESSIBLE as readonly Channel[]).includes(p.channel)).map((p) => ({ channel: p.channel, address: normalizeAddress(p.channel, p.address) }));
  if (wanted.length === 0) return new Map();
  const sql = `
    SELECT s.channel::text AS channel, s.address, s.reason FROM "Suppression" s
    JOIN unnest($2::text[], $3::text[]) AS w(channel, address) ON s.channel::text = w.channel AND s.address = w.address
    WHERE s."projectId" = $1::uuid`;
  const params = [projectId, wanted.map((w) => w.channel), wanted.map((w) => w.address)];
  const rows = db === prisma() ? await rawQuery<{ channel: string; address: string; reason: string }>(sql, params) : await db.$queryRawUnsafe<{ channel: string; address: string; reason: string }[]>(sql, ...params);
  return new Map(rows.map((r) => [`${r.channel}:${r.address}`, r.reason]));
}

export const suppressionKey = (channel: Channel, address: string) => `${channel}:${normalizeAddress(channel, address)}`;
