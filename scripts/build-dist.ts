/**
 * `npm run build` (after `npm run generate`): compiles src/ to dist/ with tsc (`.ts` specifiers
 * rewritten to `.js`) and copies what the server reads from disk beside its code (the demo
 * widget's and the console's bundles), so production runs `node dist/main.js` without tsx or any dev dependency.
 * The migrations stay in prisma/migrations: dist/db/migrate.js finds them at the same relative
 * path as src/db/migrate.ts does.
 */
import { spawnSync } from 'node:child_process';
import { cp, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

// A stale file of a deleted module must not survive into the image.
await rm(dist, { recursive: true, force: true });
// The package exports only package.json; its bin entry says where tsc is.
const typescript = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = join(dirname(typescript), 'bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

const widget = join(root, 'src/generated/widget');
if (!(await stat(widget).catch(() => null))) {
  process.stderr.write('src/generated/widget is missing: run `npm run generate` first (`npm run build` does)\n');
  process.exit(1);
}
await cp(widget, join(dist, 'generated/widget'), { recursive: true });
const consoleBuild = join(root, 'src/generated/console');
if (!(await stat(consoleBuild).catch(() => null))) {
  process.stderr.write('src/generated/console is missing: run `npm run generate` first (`npm run build` does)\n');
  process.exit(1);
}
await cp(consoleBuild, join(dist, 'generated/console'), { recursive: true });
// scripts/ensure-built.mjs compares the sources with this stamp.
await writeFile(join(dist, 'BUILD'), `${new Date().toISOString()}\n`);
process.stdout.write('Built dist/ (node dist/main.js)\n');
