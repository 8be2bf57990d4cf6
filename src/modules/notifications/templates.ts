import { Liquid, type Context, type Template } from 'liquidjs';
import type { InputIssue } from '../../graphql/errors.ts';

/**
 * Liquid templates for notification content. Rendering is sandboxed: no file tags (include,
 * render, layout), only own properties of the data, and limits so a template cannot run away.
 * Email HTML escapes every output unless the template says `| raw`.
 *
 * Limits (README, "Templates"): LiquidJS's own parseLimit (source length), memoryLimit
 * (characters and array items allocated by filters and ranges) and renderLimit (wall clock,
 * only a backstop here: renders interleave, so a render's wall time says more about the load
 * than about the template), plus ours, by work rather than wall time: MAX_STEPS, templates
 * rendered in one render (each tag, output and text node, each loop iteration's body),
 * deterministic whatever the machine's load. Steps times memoryLimit (which charges what the
 * costly filters allocate: sort, join, append, ranges...) bound the work of a render.
 * And renders yield to the event loop every SLICE_MS (waitTurn), so a slow template delays its
 * own messages, not /healthz or every other request of the process (LiquidJS itself only awaits
 * microtasks: a synchronous template would otherwise hold the event loop until it ends).
 */
const LIMITS = { parseLimit: 100_000, renderLimit: 60_000, memoryLimit: 10_000_000 } as const;
export const MAX_STEPS = 10_000;
const SLICE_MS = 4;
/** Block tags nested deeper than this are refused before parsing (LiquidJS's parser recurses per level). */
export const MAX_NESTING = 32;
const FILE_TAGS = ['include', 'render', 'layout', 'block'];

/** What one render has used so far; kept in a register of its Context (templates cannot read registers). */
interface Work {
  steps: number;
}
const WORK = 'herald:work';

/**
 * One slice of render time per event-loop turn, shared by every render of the process. A
 * per-render slice would not do: hundreds of renders waiting on setImmediate all resume in the
 * same check phase, each for its own slice, and I/O waits for all of them. Here, once SLICE_MS
 * of rendering has run since the turn began, every render waits for the next turn, so the poll
 * phase (HTTP, database answers) runs at least every SLICE_MS or so, whatever the number of renders.
 */
let sliceStart = performance.now();
let nextTurn: Promise<void> | undefined;
function waitTurn(): Promise<void> {
  nextTurn ??= new Promise((resolve) =>
    setImmediate(() => {
      nextTurn = undefined;
      sliceStart = performance.now();
      resolve();
    }),
  );
  return nextTurn;
}

export class TemplateLimitError extends Error {}

function engine(escapeHtml: boolean): Liquid {
  const liquid = new Liquid({
    ...LIMITS,
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
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
  meterRenders(liquid);
  return liquid;
}

/**
 * Every template list LiquidJS renders (the document, each block body, each loop iteration)
 * goes through renderer.renderTemplates: the one place to count work and to yield.
 */
function meterRenders(liquid: Liquid): void {
  const renderer = liquid.renderer;
  const original = renderer.renderTemplates.bind(renderer);
  renderer.renderTemplates = function* (templates: Template[], ctx: Context, emitter?: Parameters<typeof original>[2]) {
    const work = ctx.getRegister<Work>(WORK, { steps: 0 });
    work.steps += templates.length;
    if (work.steps > MAX_STEPS) throw new TemplateLimitError(`template work limit exceeded (more than ${MAX_STEPS} steps)`);
    // Async renders only (toPromise awaits a yielded promise); a sync render cannot wait.
    if (!ctx.sync && performance.now() - sliceStart >= SLICE_MS) {
      // Another render may have used up the new turn's slice before this one resumed: wait again.
      do yield waitTurn();
      while (performance.now() - sliceStart >= SLICE_MS);
    }
    return yield* original(templates, ctx, emitter);
  };
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

/**
 * Parsed templates by kind and source, least recently used first out. The key is the source
 * itself: a version's template parses once whatever the number of messages rendered from it,
 * an edited version is a new source (nothing to invalidate), and one-off overrides age out.
 */
const PARSED_MAX_ENTRIES = 1_000;
const PARSED_MAX_CHARS = 20_000_000;
const parsed = new Map<string, Template[]>();
let parsedChars = 0;

function parse(source: string, kind: TemplateKind, field: string): Template[] {
  const key = `${kind}:${source}`;
  const hit = parsed.get(key);
  if (hit) {
    parsed.delete(key);
    parsed.set(key, hit);
    return hit;
  }
  const templates = parseUncached(source, kind, field);
  parsed.set(key, templates);
  parsedChars += key.length;
  for (const [oldest] of parsed) {
    if (parsed.size <= PARSED_MAX_ENTRIES && parsedChars <= PARSED_MAX_CHARS) break;
    parsed.delete(oldest);
    parsedChars -= oldest.length;
  }
  return templates;
}

/** Opening and closing block tags, for the nesting pre-check. */
const BLOCK_TAG = /\{%-?\s*(end)?(if|unless|for|case|capture|tablerow|comment|raw)\b/g;

function nestingDepth(source: string): number {
  let depth = 0;
  let max = 0;
  for (const match of source.matchAll(BLOCK_TAG)) {
    depth += match[1] ? -1 : 1;
    if (depth > max) max = depth;
  }
  return max;
}

function parseUncached(source: string, kind: TemplateKind, field: string): Template[] {
  if (source.length > LIMITS.parseLimit) {
    throw new TemplateSyntaxError(field, 1, 1, `the template is longer than ${LIMITS.parseLimit} characters`);
  }
  if (nestingDepth(source) > MAX_NESTING) throw new TemplateSyntaxError(field, 1, 1, `blocks are nested more than ${MAX_NESTING} deep`);
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

/**
 * Checks every template of a content tree when a version is saved; one issue per broken
 * template. Besides syntax, each is rendered once with no data under the render limits: a
 * template that runs away on its own (a loop over a literal range of millions, a string
 * doubled in a loop) is refused now rather than failing every message later. What depends on
 * the data is bounded at each render.
 */
export async function checkTemplates(fields: { field: string; source: string; kind: TemplateKind }[]): Promise<InputIssue[]> {
  const issues: InputIssue[] = [];
  for (const { field, source, kind } of fields) {
    try {
      const templates = parse(source, kind, field);
      await (kind === 'html' ? htmlEngine : textEngine).render(templates, {});
    } catch (error) {
      if (error instanceof TemplateSyntaxError) issues.push({ field, message: error.message });
      else if (isLimitError(error)) issues.push({ field, message: `${limitMessage(error)} when rendered with no data` });
      // Other errors with no data (a filter given nil...) are not the template's fault yet.
    }
  }
  return issues;
}

function isLimitError(error: unknown): boolean {
  return error instanceof TemplateLimitError || (error as { originalError?: unknown })?.originalError instanceof TemplateLimitError || /limit exceeded/.test((error as Error)?.message ?? '');
}

function limitMessage(error: unknown): string {
  return ((error as Error).message.split(/, line:\d+, col:\d+|\n/)[0] ?? 'limit exceeded').trim();
}

export class TemplateRenderError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export async function renderTemplate(source: string, kind: TemplateKind, scope: Record<string, unknown>, field: string): Promise<string> {
  const templates = parse(source, kind, field);
  try {
    return await (kind === 'html' ? htmlEngine : textEngine).render(templates, scope);
  } catch (error) {
    throw new TemplateRenderError(field, (error as Error).message.split('\n')[0] ?? 'render failed');
  }
}
