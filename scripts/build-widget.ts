/**
 * Builds the inbox component (src/widget/inbox) and the demo page (src/widget/demo) into
 * src/generated/widget: herald-inbox.js (the <herald-inbox> element), herald-inbox-react.js (the
 * React wrapper, importing ./herald-inbox.js and the host's `react`), the demo's content-hashed
 * script and stylesheet, demo.html naming them, and sizes.json (raw and gzip bytes).
 * `npm run build:widget` type-checks the widget first (esbuild only strips types); `npm run
 * generate` runs it after codegen, so postinstall and CI build it. The server answers 503 on
 * /widget/* until it has run.
 */
import { gzipSync } from 'node:zlib';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { typedDocuments as typedDocumentsFor } from './typed-documents.ts';
import { COMPONENT_FILES, WIDGET_ASSETS_PATH, WIDGET_BUILD_DIR, WIDGET_PAGE_FILE } from '../src/widget/use-widget-demo.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = join(root, 'src/widget/demo');
const inbox = join(root, 'src/widget/inbox');
const TARGET = ['es2022', 'chrome109', 'firefox115', 'safari16'];

/**
 * The React wrapper is served next to the element: its import of the element becomes the
 * sibling file, so a page that loads both gets one element class, not two.
 */
const elementAsSibling: Plugin = {
  name: 'herald-element-sibling',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/index\.ts$/ }, (args) =>
      args.importer.endsWith(join('inbox', 'react.ts')) ? { path: `./${COMPONENT_FILES.element}`, external: true } : undefined,
    );
  },
};
/** The widget's graphql() calls, swapped for their printed documents (see typed-documents.ts). */
const typedDocuments = typedDocumentsFor({ root, files: /[\\/]src[\\/]widget[\\/].*\.ts$/, generated: join(root, 'src/generated/gql/graphql.ts') });

async function main(): Promise<void> {
  const started = performance.now();
  const assets = join(WIDGET_BUILD_DIR, 'assets');
  // Old hashed files would otherwise pile up; the page is written last, so until then the
  // server answers 503 rather than a page naming a bundle that is not there yet.
  await rm(WIDGET_BUILD_DIR, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const component = await build({
    absWorkingDir: root,
    entryPoints: { [COMPONENT_FILES.element.replace(/\.js$/, '')]: join(inbox, 'index.ts'), [COMPONENT_FILES.react.replace(/\.js$/, '')]: join(inbox, 'react.ts') },
    outdir: WIDGET_BUILD_DIR,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: TARGET,
    tsconfig: join(root, 'src/widget/tsconfig.json'),
    minify: true,
    legalComments: 'none',
    external: ['react', 'react-dom'],
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [typedDocuments, elementAsSibling],
  });
  const sizes: Record<string, { bytes: number; gzip: number }> = {};
  for (const file of component.outputFiles) {
    await writeFile(file.path, file.contents);
    sizes[basename(file.path)] = { bytes: file.contents.byteLength, gzip: gzipSync(file.contents, { level: 9 }).byteLength };
  }
  await writeFile(join(WIDGET_BUILD_DIR, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
  const result = await build({
    absWorkingDir: root,
    entryPoints: { demo: join(demo, 'main.ts'), 'demo-style': join(demo, 'widget.css') },
    entryNames: '[name]-[hash]',
    outdir: assets,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: TARGET,
    tsconfig: join(root, 'src/widget/tsconfig.json'),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [typedDocuments],
  });
  const outputs = Object.entries(result.metafile.outputs);
  const output = (entry: string) => {
    const found = outputs.find(([, meta]) => meta.entryPoint === relative(root, join(demo, entry)).split('\\').join('/'));
    if (!found) throw new Error(`esbuild produced no output for ${entry}`);
    return { url: WIDGET_ASSETS_PATH + basename(found[0]), bytes: found[1].bytes };
  };
  const js = output('main.ts');
  const css = output('widget.css');
  const template = await readFile(join(demo, 'index.html'), 'utf8');
  const page = template.replace('__DEMO_JS__', js.url).replace('__DEMO_CSS__', css.url);
  if (page.includes('__DEMO_')) throw new Error('index.html still has a placeholder after the build');
  await writeFile(join(WIDGET_BUILD_DIR, WIDGET_PAGE_FILE), page);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
  const shown = Object.entries(sizes).map(([name, s]) => `/widget/${name} (${kb(s.bytes)}, ${kb(s.gzip)} gzip)`);
  console.log(`widget: ${shown.join(', ')}, demo ${js.url} (${kb(js.bytes)}), ${css.url} (${kb(css.bytes)}) in ${Math.round(performance.now() - started)} ms`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
