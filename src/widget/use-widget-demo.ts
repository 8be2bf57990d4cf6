import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';

/** Where `npm run build:widget` writes the page and its bundle (gitignored, like all of src/generated). */
export const WIDGET_BUILD_DIR = fileURLToPath(new URL('../generated/widget/', import.meta.url));
export const WIDGET_PAGE_FILE = 'demo.html';
export const WIDGET_PAGE_PATH = '/widget/demo';
export const WIDGET_ASSETS_PATH = '/widget/assets/';
/** The inbox component's bundles, at stable addresses under /widget/ (host pages name them). */
export const COMPONENT_FILES = { element: 'herald-inbox.js', react: 'herald-inbox-react.js' } as const;
const COMPONENT_PATHS = new Map(Object.values(COMPONENT_FILES).map((name) => [`/widget/${name}`, name]));

const COMPONENT_HEADERS = {
  'content-type': 'text/javascript; charset=utf-8',
  // A stable name: caches revalidate (cheaply, by ETag) so a new Herald's bundle is picked up.
  'cache-control': 'public, max-age=300, must-revalidate',
  'x-content-type-options': 'nosniff',
  // Module scripts load in CORS mode: the customers' pages embedding the element are other origins.
  'access-control-allow-origin': '*',
  'cross-origin-resource-policy': 'cross-origin',
};

export interface WidgetDemoOptions {
  /** The build:widget output folder. Default: src/generated/widget. */
  dir?: string;
}

/** Only build:widget's own file names: no path can climb out of the folder. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css)(\.map)?$/;
const ASSET_TYPES = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const;

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // The page's address carries the user's credentials: keep it out of caches and referrers.
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  // Its own script and stylesheet, GraphQL over HTTP and graphql-ws to this origin, nothing else.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** A weak validator of a bundle's text (the file is small; hashing it per request is cheap). */
function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/**
 * Serves what `npm run build:widget` built: the inbox component at /widget/herald-inbox.js and
 * its React wrapper at /widget/herald-inbox-react.js (ETag, CORS for any origin), the demo page
 * at GET /widget/demo and its content-hashed bundle under /widget/assets/ (cached for good: a
 * new build has new names). The files are read on each request, so a rebuild shows up without
 * a restart. Without a build, these answer 503 saying how to make one.
 */
export function useWidgetDemo({ dir = WIDGET_BUILD_DIR }: WidgetDemoOptions = {}): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      const page = url.pathname === WIDGET_PAGE_PATH;
      const component = COMPONENT_PATHS.get(url.pathname);
      if (!page && !component && !url.pathname.startsWith(WIDGET_ASSETS_PATH)) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new Response('Method not allowed', { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (component) {
        const body = await readIfPresent(join(dir, component));
        if (body === null) {
          endResponse(notBuilt());
          return;
        }
        const etag = etagOf(body);
        const fresh = request.headers.get('if-none-match')?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
        endResponse(fresh ? new Response(null, { status: 304, headers: { ...COMPONENT_HEADERS, etag } }) : new Response(body, { headers: { ...COMPONENT_HEADERS, etag } }));
        return;
      }
      if (page) {
        const html = await readIfPresent(join(dir, WIDGET_PAGE_FILE));
        endResponse(html === null ? notBuilt() : new Response(html, { headers: PAGE_HEADERS }));
        return;
      }
      const name = url.pathname.slice(WIDGET_ASSETS_PATH.length);
      const match = ASSET_NAME.exec(name);
      const body = match ? await readIfPresent(join(dir, 'assets', name)) : null;
      if (!match || body === null) {
        endResponse(new Response('Not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
        return;
      }
      endResponse(
        new Response(body, {
          headers: {
            'content-type': match[2] ? 'application/json; charset=utf-8' : ASSET_TYPES[match[1] as keyof typeof ASSET_TYPES],
            'cache-control': 'public, max-age=31536000, immutable',
            'x-content-type-options': 'nosniff',
          },
        }),
      );
    },
  };
}

function notBuilt(): Response {
  return new Response('The inbox component is not built: run `npm run build:widget` (npm install and `npm run generate` run it too).\n', {
    status: 503,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/** Everything build:widget writes is text (HTML, JS, CSS, source maps). */
async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
