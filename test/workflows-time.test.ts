import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db/client.ts';
import { setClock } from '../src/modules/workflows/clock.ts';
import type { WorkflowEngine } from '../src/modules/workflows/engine.ts';
import { nextWindowOpening, untilInstant, zoneOf } from '../src/modules/workflows/timing.ts';
import { bearer, rest, startTestHerald, type TestHerald } from './helpers/herald.ts';
import { pollFor } from './helpers/http-server.ts';

// DELAY windows in the user's time zone across the two DST changes of 2026 that the issue names:
// 2026-03-29 in Europe/Paris (02:00 CET -> 03:00 CEST) and 2026-11-01 in America/New_York
// (02:00 EDT -> 01:00 EST), both Sundays. First the computation, then through the engine with
// its clock moved (the SQL due-time comparisons take the engine's clock, not now()).

const at = (iso: string) => new Date(iso);
const weekdays = ['MON', 'TUE', 'WED', 'THU', 'FRI'] as const;

describe('nextWindowOpening', () => {
  it('Europe/Paris, spring forward: 09:00 local is 08:00Z before the change and 07:00Z after', () => {
    // Saturday 2026-03-28 20:00 CET (19:00Z).
    const saturdayEvening = at('2026-03-28T19:00:00Z');
    expect(nextWindowOpening(saturdayEvening, 'Europe/Paris', { start: '09:00', end: '18:00' }).toISOString()).toBe('2026-03-29T07:00:00.000Z');
    expect(nextWindowOpening(saturdayEvening, 'Europe/Paris', { start: '09:00', end: '18:00', weekdays: [...weekdays] }).toISOString()).toBe('2026-03-30T07:00:00.000Z');
    // Friday 2026-03-27 07:00 CET: the same day's 09:00 is 08:00Z.
    expect(nextWindowOpening(at('2026-03-27T06:00:00Z'), 'Europe/Paris', { start: '09:00', end: '18:00', weekdays: [...weekdays] }).toISOString()).toBe('2026-03-27T08:00:00.000Z');
    // A start in the skipped hour (02:30 does not exist on 2026-03-29) opens at 03:30 CEST.
    expect(nextWindowOpening(at('2026-03-29T00:00:00Z'), 'Europe/Paris', { start: '02:30', end: '05:00' }).toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });

  it('America/New_York, fall back: 09:00 local is 13:00Z before the change and 14:00Z after', () => {
    // Saturday 2026-10-31 20:00 EDT (2026-11-01T00:00Z).
    const saturdayEvening = at('2026-11-01T00:00:00Z');
    expect(nextWindowOpening(saturdayEvening, 'America/New_York', { start: '09:00', end: '18:00' }).toISOString()).toBe('2026-11-01T14:00:00.000Z');
    expect(nextWindowOpening(saturdayEvening, 'America/New_York', { start: '09:00', end: '18:00', weekdays: [...weekdays] }).toISOString()).toBe('2026-11-02T14:00:00.000Z');
    expect(nextWindowOpening(at('2026-10-30T12:00:00Z'), 'America/New_York', { start: '09:00', end: '18:00' }).toISOString()).toBe('2026-10-30T13:00:00.000Z');
    // 01:30 happens twice on 2026-11-01: the window opens at the first one (EDT, 05:30Z).
    expect(nextWindowOpening(at('2026-11-01T04:00:00Z'), 'America/New_York', { start: '01:30', end: '03:00' }).toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });

  it('inside the window answers now; a window past midnight belongs to the day it opens', () => {
    const inside = at('2026-03-30T10:00:00Z'); // Monday 12:00 CEST
    expect(nextWindowOpening(inside, 'Europe/Paris', { start: '09:00', end: '18:00', weekdays: [...weekdays] })).toBe(inside);
    const night = { start: '22:00', end: '06:00', weekdays: ['FRI'] as ('FRI')[] };
    // Saturday 03:00 CEST is still Friday's night window.
    const saturdayNight = at('2026-04-04T01:00:00Z');
    expect(nextWindowOpening(saturdayNight, 'Europe/Paris', night)).toBe(saturdayNight);
    // Saturday 07:00 CEST: next Friday 22:00 CEST.
    expect(nextWindowOpening(at('2026-04-04T05:00:00Z'), 'Europe/Paris', night).toISOString()).toBe('2026-04-10T20:00:00.000Z');
  });

  it('zones and until values', () => {
    expect(zoneOf('Mars/Olympus', 'Europe/Paris')).toBe('Europe/Paris');
    expect(zoneOf(null, null)).toBe('UTC');
    expect(untilInstant('2026-05-01T10:00:00+02:00', -3600)!.toISOString()).toBe('2026-05-01T07:00:00.000Z');
    expect(untilInstant('1777629600000', 0)!.toISOString()).toBe('2026-05-01T10:00:00.000Z');
    expect(untilInstant('soon', 0)).toBeNull();
  });
});

describe('DELAY window through the engine', () => {
  let h: TestHerald;
  let now = Date.parse('2026-03-28T19:00:00Z');
  const engine = () => h.herald.delivery.workflows as WorkflowEngine;
  const call = async (query: string, variables: Record<string, unknown> = {}) =>
    (await rest(h.url, 'POST', '/graphql', { query, variables }, bearer(h.project.apiKey))).body as { data?: any; errors?: { extensions: { code: string } }[] };

  beforeAll(async () => {
    setClock(() => now);
    h = await startTestHerald({ env: { RECONCILE_INTERVAL_MS: '60000' } });
    const created = await call('mutation($input: NotificationInput!) { createNotification(input: $input) { id } }', {
      input: {
        key: 'office-hours',
        type: 'in-app',
        name: 'Office hours',
        versions: [{ contents: [{ locale: 'en', title: 'Report ready', body: 'b' }] }],
        workflow: [{ kind: 'DELAY', window: { start: '09:00', end: '18:00', weekdays: [...weekdays] } }, { kind: 'CHANNEL', channel: 'IN_APP' }],
      },
    });
    expect(created.errors).toBeUndefined();
  });
  afterAll(async () => {
    setClock(null);
    await h?.stop();
  });

  const send = (messages: Record<string, unknown>[]) => rest(h.url, 'POST', '/messages.send', { messages }, bearer(h.project.apiKey));
  const runOf = (externalId: string) =>
    pollFor(async () => {
      const run = await prisma().workflowRun.findFirst({ where: { user: { externalId } }, include: { stepStates: true } });
      // Not RUNNING: include reads the steps in a second query, so a run read just before its
      // step committed comes back RUNNING with the step's state beside it.
      return run && run.status !== 'RUNNING' && run.stepStates.length > 0 ? run : null;
    }, 15_000, `run of ${externalId}`);

  it("waits for Monday 09:00 in the user's zone (Paris, after spring forward), then delivers", async () => {
    await send([{ notificationId: 'office-hours', userId: 'paris', userTimezone: 'Europe/Paris', data: {} }]);
    const run = await runOf('paris');
    expect(run.status).toBe('WAITING');
    expect(run.dueAt!.toISOString()).toBe('2026-03-30T07:00:00.000Z');
    now = Date.parse('2026-03-30T06:59:59Z');
    await engine().sweep();
    expect(await prisma().message.count({ where: { user: { externalId: 'paris' } } })).toBe(0);
    now = Date.parse('2026-03-30T07:00:00Z');
    await engine().sweep();
    await pollFor(async () => (await prisma().message.count({ where: { user: { externalId: 'paris' }, status: 'DELIVERED' } })) === 1, 15_000, 'delivered at 09:00 CEST');
  });

  it("uses the project's default zone for users without one (New York, after fall back)", async () => {
    const bad = await call('mutation { setWorkflowDefaultTimezone(timezone: "Mars/Olympus") }');
    expect(bad.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect((await call('mutation { setWorkflowDefaultTimezone(timezone: "America/New_York") }')).data.setWorkflowDefaultTimezone).toBe('America/New_York');
    now = Date.parse('2026-11-01T00:00:00Z'); // Saturday 20:00 EDT
    await send([{ notificationId: 'office-hours', userId: 'nyc', data: {} }]);
    const run = await runOf('nyc');
    expect(run.dueAt!.toISOString()).toBe('2026-11-02T14:00:00.000Z');
    const view = await call('query($id: ID!) { workflowRun(id: $id) { steps { status reason resumeAt } } }', { id: run.id });
    expect(view.data.workflowRun.steps[0]).toMatchObject({ status: 'WAITING', resumeAt: '2026-11-02T14:00:00.000Z' });
    expect(view.data.workflowRun.steps[0].reason).toMatch(/America\/New_York/);
  });
});
