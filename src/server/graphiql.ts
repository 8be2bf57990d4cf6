import { renderGraphiQL as renderGraphiQLFromCdn, type GraphiQLOptions, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';

/**
 * GraphiQL served from this server, so it works on a machine without internet. Yoga's own page
 * loads its script, stylesheet and Monaco workers from unpkg.com; the same build is published as
 * strings by `@graphql-yoga/render-graphiql`, whose own renderer inlines all of it (9 MB) into
 * every page. Here the page links to each asset under /graphiql/<version>/ instead: the browser
 * caches them for good, and the 9 MB module is imported on the first GraphiQL request only
 * (never in production, where GraphiQL is off).
 */
export const GRAPHIQL_ASSETS_PACKAGE = '@graphql-yoga/render-graphiql';
/** The version in the asset URLs (immutable caching); the one package.json pins. */
export const GRAPHIQL_ASSETS_VERSION = '5.24.1';
export const GRAPHIQL_ASSETS_PATH = `/graphiql/${GRAPHIQL_ASSETS_VERSION}/`;

interface GraphiQLAssets {
  js: string;
  css: string;
  favicon: string;
  editorWorkerService: string;
  jsonWorker: string;
  graphqlWorker: string;
}

const JS = 'text/javascript; charset=utf-8';

/** Monaco asks for a worker by label; each label has its own bundle. */
const WORKERS: Record<string, keyof GraphiQLAssets> = {
  'editor.worker.js': 'editorWorkerService',
  'json.worker.js': 'jsonWorker',
  'graphql.worker.js': 'graphqlWorker',
};

/**
 * Runs before the bundle, as in yoga's page: Monaco reads MonacoEnvironment when it starts its
 * workers. Same-origin worker URLs, not blobs, so a CSP with `worker-src 'self'` allows them.
 */
const ENVIRONMENT_SCRIPT = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (moduleId, label) {
    var name = { json: 'json.worker.js', graphql: 'graphql.worker.js' }[label] || 'editor.worker.js';
    return ${JSON.stringify(GRAPHIQL_ASSETS_PATH)} + name;
  },
};
`;
/** Runs after the bundle: the options travel in a JSON script element, so no inline script is needed. */
const RENDER_SCRIPT = `YogaGraphiQL.renderYogaGraphiQL(
  document.querySelector('#root'),
  JSON.parse(document.getElementById('graphiql-options').textContent),
);
`;

let loading: Promise<GraphiQLAssets | null> | undefined;

/** The asset strings, or null when the package is not installed (then the CDN page is served). */
export function loadGraphiQLAssets(logger?: Logger): Promise<GraphiQLAssets | null> {
  // A specifier in a variable: the package is optional for the type-check, and only this import loads it.
  const specifier: string = `${GRAPHIQL_ASSETS_PACKAGE}/graphiql`;
  loading ??= (import(specifier) as Promise<GraphiQLAssets>).then(
    (assets) => assets,
    (error: unknown) => {
      logger?.warn(
        { reason: (error as Error).message },
        `${GRAPHIQL_ASSETS_PACKAGE} is not installed: GraphiQL loads its assets from unpkg.com and is blank without internet`,
      );
      return null;
    },
  );
  return loading;
}

/** JSON inside a <script> element: "<" escaped so no value can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** yoga's `renderGraphiQL` option: the page, linking to the local assets. */
export function renderLocalGraphiQL(logger?: Logger) {
  return async (options: GraphiQLOptions): Promise<string> => {
    if (!(await loadGraphiQLAssets(logger))) return renderGraphiQLFromCdn(options);
    const base = GRAPHIQL_ASSETS_PATH;
    return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${base}favicon.ico" />
    <link rel="stylesheet" href="${base}graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script id="graphiql-options" type="application/json">${scriptJson(options)}</script>
    <script src="${base}environment.js"></script>
    <script src="${base}yoga-graphiql.js"></script>
    <script src="${base}render.js"></script>
  </body>
</html>
`;
  };
}

/** Serves GET /graphiql/<version>/<asset>; other names are 404, other versions too (stale pages reload). */
export function useGraphiQLAssets(logger?: Logger): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      if (!url.pathname.startsWith('/graphiql/')) return;
      const notFound = () => new Response('Not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new Response('Method not allowed', { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (!url.pathname.startsWith(GRAPHIQL_ASSETS_PATH)) return endResponse(notFound());
      const assets = await loadGraphiQLAssets(logger);
      if (!assets) return endResponse(notFound());
      const name = url.pathname.slice(GRAPHIQL_ASSETS_PATH.length);
      const asset = assetOf(assets, name);
      if (!asset) return endResponse(notFound());
      endResponse(
        new Response(asset.body, {
          headers: {
            'content-type': asset.type,
            'cache-control': 'public, max-age=31536000, immutable',
            'x-content-type-options': 'nosniff',
          },
        }),
      );
    },
  };
}

function assetOf(assets: GraphiQLAssets, name: string): { body: string | Uint8Array<ArrayBuffer>; type: string } | null {
  if (name === 'yoga-graphiql.js') return { body: assets.js, type: JS };
  if (name === 'graphiql.css') return { body: assets.css, type: 'text/css; charset=utf-8' };
  if (name === 'environment.js') return { body: ENVIRONMENT_SCRIPT, type: JS };
  if (name === 'render.js') return { body: RENDER_SCRIPT, type: JS };
  const worker = Object.hasOwn(WORKERS, name) ? WORKERS[name] : undefined;
  if (worker) return { body: assets[worker], type: JS };
  if (name === 'favicon.ico') {
    // The package ships it as a data: URL.
    const data = /^data:([^;,]+);base64,(.*)$/s.exec(assets.favicon);
    return data ? { body: new Uint8Array(Buffer.from(data[2]!, 'base64')), type: data[1]! } : null;
  }
  return null;
}

/**
 * GET /graphql without a `query` parameter is someone exploring (a browser in production, where
 * GraphiQL is off, or curl): yoga would answer an empty 406 or a 200 carrying an error. This
 * answers 400 saying how to call the endpoint, as JSON for API clients, as text for the rest.
 */
export function useGraphQLGetHelp(options: { graphiql: boolean }): Plugin {
  return {
    onRequest({ url, request, endResponse }) {
      if (request.method !== 'GET' || (url.pathname !== '/graphql' && url.pathname !== '/graphql/')) return;
      if (url.searchParams.has('query') || url.searchParams.has('extensions')) return;
      const accept = request.headers.get('accept') ?? '';
      const graphiql = options.graphiql
        ? 'Browsers (Accept: text/html) get the GraphQL IDE here.'
        : 'The GraphQL IDE is off in production (NODE_ENV=production).';
      const message = `GET /graphql needs a query parameter (GET /graphql?query={__typename}); or POST /graphql with a JSON body {"query": "..."}. ${graphiql}`;
      endResponse(
        /json/.test(accept) || accept === '' || accept.includes('*/*')
          ? Response.json({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }, { status: 400 })
          : new Response(`${message}\n`, { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
      );
    },
  };
}
