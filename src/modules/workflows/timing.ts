import { DateTime, IANAZone } from 'luxon';
import { WEEKDAYS, type Weekday } from './model.ts';

export interface LocalWindow {
  start: string;
  end: string;
  weekdays?: readonly Weekday[] | null | undefined;
}

/** The zone a user's local times are in: theirs when valid, else the project's, else UTC. */
export function zoneOf(userZone: string | null | undefined, projectZone: string | null | undefined): string {
  for (const zone of [userZone, projectZone]) if (zone && IANAZone.isValidZone(zone)) return zone;
  return 'UTC';
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * When the window is next open at or after `now` in `zone`: `now` itself when it is open, else
 * the next start. Computed on the local calendar with luxon, so a 09:00 start stays 09:00 local
 * on both sides of a DST change (its UTC instant moves by the hour); a start that falls in the
 * spring-forward gap (02:30 on the last Sunday of March in Paris) opens at the first instant that
 * exists after it (03:30 local, luxon's shift forward), and a start in the repeated autumn hour
 * opens at its first occurrence. A window whose end is before its start spans midnight; its
 * weekdays are the days it opens on.
 */
export function nextWindowOpening(now: Date, zone: string, window: LocalWindow): Date {
  const local = DateTime.fromJSDate(now, { zone });
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const days = new Set<Weekday>(window.weekdays?.length ? window.weekdays : WEEKDAYS);
  const dayOk = (d: DateTime) => days.has(WEEKDAYS[d.weekday - 1]!);
  const at = (day: DateTime, minutes: number) => day.startOf('day').set({ hour: Math.floor(minutes / 60), minute: minutes % 60 });
  // Open now? (a window opened today, or yesterday when it spans midnight)
  for (const back of [0, 1]) {
    const day = local.minus({ days: back });
    if (!dayOk(day)) continue;
    const opens = at(day, start);
    const closes = end > start ? at(day, end) : at(day.plus({ days: 1 }), end);
    if (opens <= local && local < closes) return now;
  }
  for (let ahead = 0; ahead <= 7; ahead++) {
    const day = local.plus({ days: ahead });
    if (!dayOk(day)) continue;
    const opens = at(day, start);
    if (opens > local) return opens.toJSDate();
  }
  // Unreachable: some weekday is allowed, so one opening lies within eight days.
  return now;
}

/** DELAY {until}: the rendered text as an instant (ISO 8601, or epoch milliseconds), plus the offset; null: not a time. */
export function untilInstant(rendered: string, offsetSeconds: number | null | undefined): Date | null {
  const text = rendered.trim();
  if (!text) return null;
  let when: DateTime;
  if (/^\d{10,14}$/.test(text)) when = DateTime.fromMillis(Number(text), { zone: 'utc' });
  else when = DateTime.fromISO(text, { zone: 'utc', setZone: true });
  if (!when.isValid) return null;
  return new Date(when.toMillis() + (offsetSeconds ?? 0) * 1000);
}
