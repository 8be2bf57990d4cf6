/**
 * Builds the operator console (src/console/app) into src/generated/console: a content-hashed
 * ES module bundle (preact, CodeMirror 6 with the Liquid mode, graphql-ws, the console's typed
 * documents) and stylesheet, and index.html naming them. `npm run build:console` type-checks the
 * console first (esbuild only strips types); `npm run generate` runs it after codegen, so
 * postinstall, `npm run build` and CI build it. The server answers 503 on /console until then.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { CONSOLE_ASSETS_PATH, CONSOLE_BUILD_DIR, CONSOLE_PAGE_FILE } from '../src/console/use-console.ts';
import { typedDocuments } from './typed-documents.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const app = join(root, 'src/console/app');

async function main(): Promise<void> {
  const started = performance.now();
  const assets = join(CONSOLE_BUILD_DIR, 'assets');
  // Old hashed files would otherwise pile up; the page is written last, so until then the
  // server answers 503 rather than a page naming a bundle that is not there yet.
  await rm(CONSOLE_BUILD_DIR, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { console: join(app, 'main.tsx'), 'console-style': join(app, 'console.css') },
    entryNames: '[name]-[hash]',
    outdir: assets,
    bundle: true,
    format: 'esm',
    // The template editor (CodeMirror) is a dynamic import: its chunk loads on the Notifications page only.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    tsconfig: join(root, 'src/console/tsconfig.json'),
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [typedDocuments({ root, files: /[\\/]src[\\/]console[\\/]app[\\/].*\.ts$/, generated: join(root, 'src/generated/gql/graphql.ts') })],
  });
  const outputs = Object.entries(result.metafile.outputs);
  const output = async (entry: string) => {
    const found = outputs.find(([, meta]) => meta.entryPoint === relative(root, join(app, entry)).split('\\').join('/'));
    if (!found) throw new Error(`esbuild produced no output for ${entry}`);
    const gzip = gzipSync(await readFile(join(root, found[0]))).length;
    return { url: CONSOLE_ASSETS_PATH + basename(found[0]), bytes: found[1].bytes, gzip };
  };
  const js = await output('main.tsx');
  const css = await output('console.css');
  const template = await readFile(join(app, 'index.html'), 'utf8');
  const page = template.replace('__CONSOLE_JS__', js.url).replace('__CONSOLE_CSS__', css.url);
  if (page.includes('__CONSOLE_')) throw new Error('index.html still has a placeholder after the build');
  if (!page.includes('__STYLE_NONCE__')) throw new Error('index.html lost the style nonce placeholder (use-console.ts fills it per answer)');
  await writeFile(join(CONSOLE_BUILD_DIR, CONSOLE_PAGE_FILE), page);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
  const chunks = await Promise.all(
    outputs
      .filter(([file]) => file.endsWith('.js') && basename(file) !== basename(js.url))
      .map(async ([file, meta]) => `${CONSOLE_ASSETS_PATH + basename(file)} (${kb(meta.bytes)}, ${kb(gzipSync(await readFile(join(root, file))).length)} gzip)`),
  );
  console.log(
    `console: ${js.url} (${kb(js.bytes)}, ${kb(js.gzip)} gzip), ${css.url} (${kb(css.bytes)}, ${kb(css.gzip)} gzip), loaded on demand: ${chunks.join(', ') || 'none'} in ${Math.round(performance.now() - started)} ms`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
