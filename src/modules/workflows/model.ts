import jsonLogic from 'json-logic-js';
import { z } from 'zod';
import type { Channel } from '../../generated/prisma/client.ts';
import type { InputIssue } from '../../graphql/errors.ts';
import { checkTemplates } from '../notifications/templates.ts';

/**
 * A notification's workflow: an ordered list of steps, stored as JSON on the notification and
 * copied into each run when it starts (an edit does not change runs already going).
 */
export const MAX_WORKFLOW_STEPS = 20;
/**
 * Events a digest keeps for its templates (digest.events): the count goes on past it. 100 keeps
 * a digest row well under a few hundred KiB even with 2 KiB of data per event, and no email or
 * in-app item usefully lists more than that; the true number is digest.count.
 */
export const DIGEST_EVENTS_CAP = 100;
/** The longest wait a step may ask for (a year): past it, a typo rather than an intent. */
export const MAX_WAIT_SECONDS = 366 * 24 * 3600;

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
const CHANNELS = ['IN_APP', 'EMAIL', 'SMS', 'WHATSAPP', 'WEB_PUSH', 'WEBHOOK'] as const;

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time "HH:MM" (00:00-23:59)');
const seconds = (min: number) => z.number().int().min(min).max(MAX_WAIT_SECONDS);

const windowSchema = z
  .object({
    start: time,
    end: time,
    weekdays: z.array(z.enum(WEEKDAYS)).min(1).max(7).nullish(),
  })
  .strict()
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] });

const base = { condition: z.unknown().optional() };
export const stepSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ ...base, kind: z.literal('CHANNEL'), channel: z.enum(CHANNELS, { error: `must be one of ${CHANNELS.join(', ')}` }) }).strict(),
    z
      .object({
        ...base,
        kind: z.literal('DELAY'),
        seconds: seconds(0).nullish(),
        until: z.string().min(1).max(1_000).nullish(),
        offsetSeconds: z.number().int().min(-MAX_WAIT_SECONDS).max(MAX_WAIT_SECONDS).nullish(),
        window: windowSchema.nullish(),
      })
      .strict()
      .refine((s) => [s.seconds, s.until, s.window].filter((v) => v != null).length === 1, { message: 'give exactly one of seconds, until and window', path: ['seconds'] }),
    z
      .object({
        ...base,
        kind: z.literal('DIGEST'),
        key: z.string().max(1_000).nullish(),
        windowSeconds: seconds(1),
        mode: z.enum(['FIXED', 'SLIDING']).nullish(),
        maxWaitSeconds: seconds(1).nullish(),
        maxEvents: z.number().int().min(1).max(1_000_000).nullish(),
      })
      .strict(),
    z
      .object({
        ...base,
        kind: z.literal('THROTTLE'),
        key: z.string().max(1_000).nullish(),
        limit: z.number().int().min(1).max(1_000_000),
        windowSeconds: seconds(1),
      })
      .strict(),
  ],
  { error: 'kind must be one of CHANNEL, DELAY, DIGEST, THROTTLE' },
);

export type WorkflowStep = z.output<typeof stepSchema>;
export type ChannelStep = Extract<WorkflowStep, { kind: 'CHANNEL' }>;
export type DelayStep = Extract<WorkflowStep, { kind: 'DELAY' }>;
export type DigestStep = Extract<WorkflowStep, { kind: 'DIGEST' }>;
export type ThrottleStep = Extract<WorkflowStep, { kind: 'THROTTLE' }>;

/** GraphQL input: one flat object per step (GraphQL has no input unions); null members dropped. */
function compact(step: unknown): unknown {
  if (!step || typeof step !== 'object' || Array.isArray(step)) return step;
  return Object.fromEntries(Object.entries(step).filter(([, v]) => v !== null && v !== undefined));
}

/** Why a JSON Logic rule is not one (null: it is), checked without any data. */
export function jsonLogicIssue(rule: unknown): string | null {
  const walk = (node: unknown, depth: number): string | null => {
    if (depth > 32) return 'is nested too deeply (at most 32 levels)';
    if (Array.isArray(node)) {
      for (const item of node) {
        const issue = walk(item, depth + 1);
        if (issue) return issue;
      }
      return null;
    }
    if (node && typeof node === 'object') {
      const keys = Object.keys(node);
      // json-logic-js reads an object of several keys as a literal: a rule mistyped that way
      // would be silently truthy.
      if (keys.length !== 1) return `an operation is an object with exactly one key (got ${keys.length}: ${keys.slice(0, 4).join(', ')})`;
      return walk((node as Record<string, unknown>)[keys[0]!], depth + 1);
    }
    return null;
  };
  if (rule === null || rule === undefined) return null;
  if (JSON.stringify(rule).length > 10_000) return 'is longer than 10000 characters of JSON';
  const shape = walk(rule, 0);
  if (shape) return shape;
  try {
    jsonLogic.apply(rule as never, {});
  } catch (error) {
    return `is not valid JSON Logic: ${(error as Error).message}`;
  }
  return null;
}

/**
 * Validates a workflow as saved on a notification. Issues name the step (`workflow.2.key`).
 * CHANNEL steps must name one of the notification's channels: the content of a step is the
 * version's content for that channel, rendered as for a plain send.
 */
export async function workflowIssues(raw: unknown, channels: readonly Channel[], prefix = 'workflow'): Promise<{ steps: WorkflowStep[] | null; issues: InputIssue[] }> {
  if (raw === null || raw === undefined) return { steps: null, issues: [] };
  if (!Array.isArray(raw)) return { steps: null, issues: [{ field: prefix, message: 'must be a list of steps' }] };
  if (raw.length === 0) return { steps: null, issues: [{ field: prefix, message: 'give at least one step (or null for no workflow)' }] };
  if (raw.length > MAX_WORKFLOW_STEPS) return { steps: null, issues: [{ field: prefix, message: `at most ${MAX_WORKFLOW_STEPS} steps (got ${raw.length})` }] };
  const issues: InputIssue[] = [];
  const steps: WorkflowStep[] = [];
  for (const [i, input] of raw.entries()) {
    const field = `${prefix}.${i}`;
    const parsed = stepSchema.safeParse(compact(input));
    if (!parsed.success) {
      for (const issue of parsed.error.issues) issues.push({ field: [field, ...issue.path.map(String)].join('.'), message: issue.message });
      continue;
    }
    const step = parsed.data;
    steps.push(step);
    if (step.condition !== undefined) {
      const issue = jsonLogicIssue(step.condition);
      if (issue) issues.push({ field: `${field}.condition`, message: issue });
    }
    if (step.kind === 'CHANNEL' && !channels.includes(step.channel)) {
      issues.push({ field: `${field}.channel`, message: `${step.channel} is not one of the notification's channels (${channels.join(', ') || 'none'})` });
    }
    const templates = [
      ...(step.kind === 'DIGEST' || step.kind === 'THROTTLE') && step.key ? [{ field: `${field}.key`, source: step.key, kind: 'text' as const }] : [],
      ...(step.kind === 'DELAY' && step.until ? [{ field: `${field}.until`, source: step.until, kind: 'text' as const }] : []),
    ];
    issues.push(...(await checkTemplates(templates)));
    if (step.kind === 'DIGEST' && step.maxWaitSeconds != null && step.maxWaitSeconds < step.windowSeconds) {
      issues.push({ field: `${field}.maxWaitSeconds`, message: 'must be at least windowSeconds' });
    }
  }
  if (!steps.some((s) => s.kind === 'CHANNEL') && issues.length === 0) issues.push({ field: prefix, message: 'a workflow needs at least one CHANNEL step' });
  return { steps: issues.length ? null : steps, issues };
}
