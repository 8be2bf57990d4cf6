import type { CORSOptions, Plugin } from 'graphql-yoga';

/** Response headers a browser script may read cross-origin (request ids, NP6's cursor, 503/429 hints). */
const EXPOSED_HEADERS = ['x-request-id', 'x-next-cursor', 'retry-after'];

/**
 * yoga's CORS options from CORS_ORIGINS. Herald authenticates with headers (API keys, widget
 * hashes), never cookies, so no origin needs credentials; they are allowed only for origins an
 * operator listed by name. Before, every Origin was echoed with `Allow-Credentials: true`.
 * - `*`: any origin may call, without credentials (the widget runs on customers' sites);
 * - a list: only those origins get CORS headers (others get none, so the browser refuses), with
 *   credentials. Never `Allow-Origin: null`, which sandboxed iframes and file: pages would match.
 */
export function corsOptions(origins: '*' | string[]): (request: Request) => CORSOptions {
  return (request) => {
    const origin = request.headers.get('origin');
    if (origins === '*') return { origin: '*', credentials: false, exposedHeaders: EXPOSED_HEADERS };
    if (origin === null || !origins.includes(origin)) return false;
    return { origin: [origin], credentials: true, exposedHeaders: EXPOSED_HEADERS };
  };
}

/**
 * Security headers on every answer (GraphQL, REST, health): no MIME sniffing, no Referer leaking
 * a URL that carries credentials (the widget demo's query string), and no framing of API answers
 * or GraphiQL (clickjacking). Paths under /widget/ set their own policy (use-widget-demo.ts). A
 * header a route already set is kept. Origin-dependent answers say so (`Vary: Origin`) when
 * CORS_ORIGINS is a list, so a shared cache never hands one origin's CORS headers to another.
 */
export function useSecurityHeaders({ corsList }: { corsList: boolean }): Plugin {
  return {
    onResponse({ request, response }) {
      const set = (name: string, value: string) => {
        if (!response.headers.has(name)) response.headers.set(name, value);
      };
      set('x-content-type-options', 'nosniff');
      set('referrer-policy', 'no-referrer');
      if (!underWidget(request.url)) {
        set('x-frame-options', 'DENY');
        set('content-security-policy', "frame-ancestors 'none'");
      }
      if (corsList) {
        const vary = response.headers.get('vary');
        if (!vary?.split(',').some((v) => v.trim().toLowerCase() === 'origin')) response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
      }
    },
  };
}

/**
 * Whether a request URL's path is under /widget/. request.url is the serialized, normalized URL
 * (`http://host/widget/…`, dot segments resolved), so a string test on it is the pathname's test
 * without parsing the URL again on every answer.
 */
function underWidget(url: string): boolean {
  const path = url.indexOf('/', url.indexOf('//') + 2);
  return path !== -1 && url.startsWith('/widget/', path);
}
