import type { Context } from './context.ts';
import { unauthenticated } from './errors.ts';

/**
 * The caller's project. Every service call is scoped by it, so another project's ids
 * behave exactly like unknown ids.
 */
export function requireProjectId(ctx: Context): string {
  if (!ctx.principal) throw unauthenticated();
  return ctx.principal.projectId;
}
