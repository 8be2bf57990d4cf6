import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the console's and the widget's builds share: the folder a build step wrote (page and
 * content-hashed bundles under assets/), read per request so a rebuild shows up without a
 * restart. Everything such a build writes is text (HTML, JS, CSS, source maps).
 */

/** Only a build's own file names: no path can climb out of its folder. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css)(\.map)?$/;
const ASSET_TYPES = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const;

export const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8' } as const;

/** A file of the build, or null when it is not there (not built, or no such name). */
export async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** 405 for anything but GET and HEAD on a static path; null when the method is fine. */
export function methodNotAllowed(request: Request): Response | null {
  if (request.method === 'GET' || request.method === 'HEAD') return null;
  return new Response('Method not allowed', { status: 405, headers: { allow: 'GET, HEAD', ...TEXT_HEADERS } });
}

/** 503 naming the command that makes the missing build. */
export function notBuilt(what: string): Response {
  return new Response(`${what}\n`, { status: 503, headers: { ...TEXT_HEADERS, 'cache-control': 'no-store' } });
}

/**
 * A content-hashed bundle of `<dir>/assets/` by its name (the part of the path after the assets
 * prefix), cached for good (a new build has new names); 404 for any other name.
 */
export async function assetResponse(dir: string, name: string): Promise<Response> {
  const match = ASSET_NAME.exec(name);
  const body = match ? await readIfPresent(join(dir, 'assets', name)) : null;
  if (!match || body === null) return new Response('Not found', { status: 404, headers: TEXT_HEADERS });
  return new Response(body, {
    headers: {
      'content-type': match[2] ? 'application/json; charset=utf-8' : ASSET_TYPES[match[1] as keyof typeof ASSET_TYPES],
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    },
  });
}
