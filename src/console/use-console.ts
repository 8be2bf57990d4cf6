import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';
import { assetResponse, methodNotAllowed, notBuilt, readIfPresent } from '../server/static-build.ts';

/** Where `npm run build:console` writes the page and its bundle (gitignored, like all of src/generated). */
export const CONSOLE_BUILD_DIR = fileURLToPath(new URL('../generated/console/', import.meta.url));
export const CONSOLE_PAGE_FILE = 'index.html';
export const CONSOLE_PAGE_PATH = '/console';
export const CONSOLE_ASSETS_PATH = '/console/assets/';

export interface ConsoleOptions {
  /** The build:console output folder. Default: src/generated/console. */
  dir?: string;
}

/**
 * The console's own script and stylesheet, GraphQL over HTTP and graphql-ws to this origin,
 * nothing else: no inline script, no frames, no forms posting anywhere. The one exception is
 * CodeMirror's theme, a <style> element it writes: it carries this answer's nonce (the page
 * hands it to the editor in a meta tag), so no other inline style is admitted.
 */
export function consoleCsp(styleNonce: string): string {
  return `default-src 'none'; script-src 'self'; style-src 'self' 'nonce-${styleNonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

const NONCE_PLACEHOLDER = '__STYLE_NONCE__';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // The page never carries a credential (the key lives in sessionStorage), but a stale page
  // would name bundles a rebuild deleted.
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/**
 * Serves the operator console built by `npm run build:console`: the page at GET /console (and
 * /console/, its client-side routes live in the fragment) and its content-hashed bundle under
 * /console/assets/ (cached for good: a new build has new names). Files are read per request,
 * so a rebuild shows up without a restart. Without a build, /console answers 503 saying how.
 */
export function useConsole({ dir = CONSOLE_BUILD_DIR }: ConsoleOptions = {}): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      const page = url.pathname === CONSOLE_PAGE_PATH || url.pathname === `${CONSOLE_PAGE_PATH}/`;
      if (!page && !url.pathname.startsWith(CONSOLE_ASSETS_PATH)) return;
      const refused = methodNotAllowed(request);
      if (refused) {
        endResponse(refused);
        return;
      }
      if (page) {
        const html = await readIfPresent(join(dir, CONSOLE_PAGE_FILE));
        endResponse(
          html === null ? notBuilt('The operator console is not built: run `npm run build:console` (npm install, `npm run generate` and `npm run build` run it too).') : pageResponse(html),
        );
        return;
      }
      endResponse(await assetResponse(dir, url.pathname.slice(CONSOLE_ASSETS_PATH.length)));
    },
  };
}

/** The page with a fresh style nonce, in its meta tag and in its CSP. */
function pageResponse(html: string): Response {
  const nonce = randomBytes(16).toString('base64');
  return new Response(html.replaceAll(NONCE_PLACEHOLDER, nonce), { headers: { ...PAGE_HEADERS, 'content-security-policy': consoleCsp(nonce) } });
}
