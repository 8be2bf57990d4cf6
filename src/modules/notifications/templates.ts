import { Liquid, type Template } from 'liquidjs';
import type { InputIssue } from '../../graphql/errors.ts';

/**
 * Liquid templates for notification content. Rendering is sandboxed: no file tags (include,
 * render, layout), only own properties of the data, and parse/render/memory limits so a
 * template cannot run away. Email HTML escapes every output unless the template says `| raw`.
 */
const LIMITS = { parseLimit: 100_000, renderLimit: 1_000, memoryLimit: 10_000_000 } as const;
const FILE_TAGS = ['include', 'render', 'layout', 'block'];

function engine(escapeHtml: boolean): Liquid {
  const liquid = new Liquid({
    ...LIMITS,
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    cache: 500,
    relativeReference: false,
    ...(escapeHtml ? { outputEscape: 'escape' as const } : {}),
    // No file system at all: a template can never read a file.
    fs: {
      exists: async () => false,
      existsSync: () => false,
      readFile: async () => '',
      readFileSync: () => '',
      resolve: () => '',
    },
  });
  for (const tag of FILE_TAGS) delete (liquid.tags as Record<string, unknown>)[tag];
  return liquid;
}

const textEngine = engine(false);
const htmlEngine = engine(true);

export type TemplateKind = 'text' | 'html';

export class TemplateSyntaxError extends Error {
  constructor(
    readonly field: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`template syntax error at line ${line}, column ${column}: ${detail}`);
  }
}

function parse(source: string, kind: TemplateKind, field: string): Template[] {
  try {
    return (kind === 'html' ? htmlEngine : textEngine).parse(source);
  } catch (error) {
    const e = error as Error & { token?: { getPosition(): [number, number] } };
    const [line, column] = e.token?.getPosition() ?? [1, 1];
    // LiquidJS appends ", line:1, col:5" and the source excerpt: keep the first sentence only.
    const detail = e.message.split(/, line:\d+, col:\d+|\n/)[0] ?? e.message;
    throw new TemplateSyntaxError(field, line, column, detail);
  }
}

/** Checks every template of a content tree; returns one issue per broken template. */
export function checkTemplates(fields: { field: string; source: string; kind: TemplateKind }[]): InputIssue[] {
  const issues: InputIssue[] = [];
  for (const { field, source, kind } of fields) {
    try {
      parse(source, kind, field);
    } catch (error) {
      if (error instanceof TemplateSyntaxError) issues.push({ field, message: error.message });
      else throw error;
    }
  }
  return issues;
}

export class TemplateRenderError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/**
 * Parsed templates by kind and source, so a version's templates are parsed once, not once per
 * recipient (a 50-message send renders the same few sources 50 times). Keyed by the source
 * itself: an edited version has a new source, so nothing is ever stale. Bounded; the oldest
 * entry goes first. Only successful parses are kept (a syntax error is thrown every time).
 */
const PARSED_CACHE_SIZE = 1_000;
const parsedCache = new Map<string, Template[]>();
function parseCached(source: string, kind: TemplateKind, field: string): Template[] {
  const key = `${kind}\u0000${source}`;
  const hit = parsedCache.get(key);
  if (hit) return hit;
  const templates = parse(source, kind, field);
  if (parsedCache.size >= PARSED_CACHE_SIZE) parsedCache.delete(parsedCache.keys().next().value!);
  parsedCache.set(key, templates);
  return templates;
}

export async function renderTemplate(source: string, kind: TemplateKind, scope: Record<string, unknown>, field: string): Promise<string> {
  const templates = parseCached(source, kind, field);
  try {
    return await (kind === 'html' ? htmlEngine : textEngine).render(templates, scope);
  } catch (error) {
    throw new TemplateRenderError(field, (error as Error).message.split('\n')[0] ?? 'render failed');
  }
}
