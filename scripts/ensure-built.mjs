// `npm start` runs this first (prestart), in plain Node so production pays for no wrapper: with
// the dev dependencies installed (a clone), it builds dist/ when it is missing or older than the
// sources; without them (`npm ci --omit=dev` on a built checkout) it only checks dist/ exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist/BUILD');

/**
 * Whether this install can build: graphql-codegen is a dev dependency nothing else pulls in
 * (typescript and prisma can be, as peer dependencies of production packages).
 */
function hasDevTools() {
  try {
    createRequire(import.meta.url).resolve('@graphql-codegen/cli/package.json');
    return true;
  } catch {
    return false;
  }
}

/** The newest modification time under the inputs of the build (generated files excluded). */
function newestSource() {
  let newest = 0;
  const visit = (path) => {
    const info = statSync(path);
    if (info.isDirectory()) {
      if (path.endsWith(join('src', 'generated'))) return;
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else newest = Math.max(newest, info.mtimeMs);
  };
  for (const input of ['src', 'prisma/schema.prisma', 'codegen.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) {
    if (existsSync(join(root, input))) visit(join(root, input));
  }
  return newest;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (!hasDevTools()) {
  if (!built) {
    process.stderr.write('dist/ is not built: run `npm run build` where the dev dependencies are installed, then start with `node dist/main.js`\n');
    process.exit(1);
  }
  process.exit(0);
}
if (built && built >= newestSource()) process.exit(0);
process.stdout.write(built ? 'Sources changed since the last build: npm run build\n' : 'First start: npm run build\n');
const result = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
