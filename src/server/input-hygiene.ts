/**
 * Checks on untrusted input that every API shares, run before anything reaches a resolver,
 * Prisma or PostgreSQL:
 * - strings (values and object keys) must be text PostgreSQL can store: no NUL (`\u0000`: text
 *   columns refuse it, and jsonb refuses its escape, both with 22P05/22021) and no lone UTF-16
 *   surrogate (JSON allows `"\ud800"`; it is not a Unicode character, jsonb refuses it and UTF-8
 *   cannot encode it);
 * - values must not nest deeper than a bound: JSON.stringify, Prisma and the JSON scalars
 *   recurse, so a `data` nested 100,000 deep overflowed the stack (a 500) after JSON.parse,
 *   which does not recurse, had accepted it.
 * The walk is iterative, so the check itself cannot overflow, and it stops at the first problem.
 */

export interface HygieneProblem {
  /** Dotted path of the offending value, e.g. "messages.0.data.a" (prefixed by the caller). */
  path: string;
  message: string;
}

/** NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one. */
const BAD_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored, or null when it can. */
export function badText(value: string): string | null {
  const match = BAD_TEXT.exec(value);
  if (!match) return null;
  return match[0] === '\u0000' ? 'must not contain NUL characters (\\u0000)' : 'must be valid Unicode text (it contains a lone UTF-16 surrogate)';
}

/** The first problem of a JSON-like value, or null. `prefix` names the value itself. */
export function findInputProblem(value: unknown, maxDepth: number, prefix: string[] = []): HygieneProblem | null {
  // Paths are built only for the offending value: each entry links to its parent.
  interface Entry {
    value: unknown;
    parent: Entry | null;
    key: string;
    depth: number;
  }
  const pathOf = (entry: Entry | null, last?: string): string => {
    const keys: string[] = last === undefined ? [] : [last];
    for (let e = entry; e && e.parent; e = e.parent) keys.push(e.key);
    return [...prefix, ...keys.reverse()].join('.');
  };
  const stack: Entry[] = [{ value, parent: null, key: '', depth: 0 }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const current = entry.value;
    if (typeof current === 'string') {
      const problem = badText(current);
      if (problem) return { path: pathOf(entry), message: problem };
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (entry.depth >= maxDepth) return { path: pathOf(entry), message: `nests deeper than ${maxDepth} levels` };
    const children: [string, unknown][] = Array.isArray(current)
      ? current.map((child, i) => [String(i), child])
      : Object.entries(current as Record<string, unknown>);
    for (let i = children.length - 1; i >= 0; i--) {
      const [key, child] = children[i]!;
      const keyProblem = Array.isArray(current) ? null : badText(key);
      if (keyProblem) return { path: pathOf(entry, sanitizedKey(key)), message: `has a key that ${keyProblem}` };
      if (typeof child === 'string' || (typeof child === 'object' && child !== null)) {
        stack.push({ value: child, parent: entry, key, depth: entry.depth + 1 });
      }
    }
  }
  return null;
}

/** A key that cannot be stored cannot be echoed either (the answer is JSON too). */
function sanitizedKey(key: string): string {
  return key.replace(new RegExp(BAD_TEXT.source, 'g'), '\uFFFD');
}
