import { builder } from '../../graphql/builder.ts';
import { WEEKDAYS, type WorkflowStep } from './model.ts';

/**
 * The GraphQL shape of workflow steps, on Notification and NotificationInput. Built by the
 * notifications schema (which owns the Channel enum) so both modules share one definition.
 * One flat object per step (GraphQL has no input unions): `kind` says which members apply;
 * the service checks them (workflowIssues) and names the step of each issue.
 */
export function workflowStepTypes<C>(Channel: C) {
  const StepKind = builder.enumType('WorkflowStepKind', { values: ['CHANNEL', 'DELAY', 'DIGEST', 'THROTTLE'] as const });
  const DigestMode = builder.enumType('DigestMode', { values: ['FIXED', 'SLIDING'] as const });
  const Weekday = builder.enumType('Weekday', { values: WEEKDAYS });

  interface Window {
    start: string;
    end: string;
    weekdays?: string[] | null;
  }
  const WindowRef = builder.objectRef<Window>('WorkflowWindow').implement({
    description: "Local-time window (the user's time zone, else the project's defaultTimezone).",
    fields: (t) => ({
      start: t.exposeString('start'),
      end: t.exposeString('end'),
      weekdays: t.field({ type: [Weekday], nullable: true, resolve: (w) => (w.weekdays ?? null) as never }),
    }),
  });
  const WindowInput = builder.inputType('WorkflowWindowInput', {
    fields: (t) => ({
      start: t.string({ required: true, description: '"HH:MM", local time.' }),
      end: t.string({ required: true, description: '"HH:MM", local time; before start: the window spans midnight.' }),
      weekdays: t.field({ type: [Weekday], description: 'Days the window opens on (its start day); default every day.' }),
    }),
  });

  type Step = WorkflowStep & Record<string, unknown>;
  const StepRef = builder.objectRef<Step>('WorkflowStep').implement({
    description: 'One step of a workflow; `kind` says which members apply.',
    fields: (t) => ({
      kind: t.field({ type: StepKind, resolve: (s) => s.kind }),
      channel: t.field({ type: Channel as never, nullable: true, resolve: (s) => (s.kind === 'CHANNEL' ? s.channel : null) as never }),
      seconds: t.int({ nullable: true, resolve: (s) => (s.kind === 'DELAY' ? (s.seconds ?? null) : null) }),
      until: t.string({ nullable: true, resolve: (s) => (s.kind === 'DELAY' ? (s.until ?? null) : null) }),
      offsetSeconds: t.int({ nullable: true, resolve: (s) => (s.kind === 'DELAY' ? (s.offsetSeconds ?? null) : null) }),
      window: t.field({ type: WindowRef, nullable: true, resolve: (s) => (s.kind === 'DELAY' ? (s.window ?? null) : null) }),
      key: t.string({ nullable: true, resolve: (s) => (s.kind === 'DIGEST' || s.kind === 'THROTTLE' ? (s.key ?? null) : null) }),
      windowSeconds: t.int({ nullable: true, resolve: (s) => (s.kind === 'DIGEST' || s.kind === 'THROTTLE' ? s.windowSeconds : null) }),
      mode: t.field({ type: DigestMode, nullable: true, resolve: (s) => (s.kind === 'DIGEST' ? (s.mode ?? 'FIXED') : null) }),
      maxWaitSeconds: t.int({ nullable: true, resolve: (s) => (s.kind === 'DIGEST' ? (s.maxWaitSeconds ?? null) : null) }),
      maxEvents: t.int({ nullable: true, resolve: (s) => (s.kind === 'DIGEST' ? (s.maxEvents ?? null) : null) }),
      limit: t.int({ nullable: true, resolve: (s) => (s.kind === 'THROTTLE' ? s.limit : null) }),
      condition: t.field({ type: 'JSON', nullable: true, resolve: (s) => (s.condition ?? null) as never }),
    }),
  });
  const StepInput = builder.inputType('WorkflowStepInput', {
    description: 'One step: CHANNEL {channel}, DELAY {seconds | until (+ offsetSeconds) | window}, DIGEST {key windowSeconds mode maxWaitSeconds maxEvents}, THROTTLE {key limit windowSeconds}; any with a JSON Logic condition.',
    fields: (t) => ({
      kind: t.field({ type: StepKind, required: true }),
      channel: t.field({ type: Channel as never }),
      seconds: t.int(),
      until: t.string({ description: 'Liquid rendering to an ISO 8601 time, e.g. "{{ data.appointmentAt }}".' }),
      offsetSeconds: t.int({ description: 'Added to `until` (negative: before it).' }),
      window: t.field({ type: WindowInput }),
      key: t.string({ description: 'Liquid, rendered per trigger: triggers with the same rendered key share a digest / throttle.' }),
      windowSeconds: t.int(),
      mode: t.field({ type: DigestMode }),
      maxWaitSeconds: t.int({ description: 'SLIDING: the digest closes at the latest this long after its first event.' }),
      maxEvents: t.int({ description: 'The digest closes as soon as it holds this many events.' }),
      limit: t.int(),
      condition: t.field({ type: 'JSON', description: 'JSON Logic over data, user, preferences, steps.N (status, readAt, seenAt, deliveredAt...) and digest.' }),
    }),
  });
  return { StepRef, StepInput, StepKind };
}
