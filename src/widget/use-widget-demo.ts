import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';
import { assetResponse, methodNotAllowed, notBuilt, readIfPresent } from '../server/static-build.ts';

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

const NOT_BUILT = 'The inbox component is not built: run `npm run build:widget` (npm install and `npm run generate` run it too).';

export interface WidgetDemoOptions {
  /** The build:widget output folder. Default: src/generated/widget. */
  dir?: string;
}

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
      const refused = methodNotAllowed(request);
      if (refused) {
        endResponse(refused);
        return;
      }
      if (component) {
        const body = await readIfPresent(join(dir, component));
        if (body === null) {
          endResponse(notBuilt(NOT_BUILT));
          return;
        }
        const etag = etagOf(body);
        const fresh = request.headers.get('if-none-match')?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
        endResponse(fresh ? new Response(null, { status: 304, headers: { ...COMPONENT_HEADERS, etag } }) : new Response(body, { headers: { ...COMPONENT_HEADERS, etag } }));
        return;
      }
      if (page) {
        const html = await readIfPresent(join(dir, WIDGET_PAGE_FILE));
        endResponse(html === null ? notBuilt(NOT_BUILT) : new Response(html, { headers: PAGE_HEADERS }));
        return;
      }
      endResponse(await assetResponse(dir, url.pathname.slice(WIDGET_ASSETS_PATH.length)));
    },
  };
}
