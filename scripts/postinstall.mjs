// postinstall: regenerates the Prisma client, schema.graphql, codegen's documents, the widget and the console
// where the generators are installed (a clone: `npm install`, CI's `npm ci`). A production install
// (`npm ci --omit=dev`) has none of them and needs none: it runs the already built dist/.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const installed = (name) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};
if (!installed('prisma') || !installed('@graphql-codegen/cli')) process.exit(0);
const result = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'generate'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
