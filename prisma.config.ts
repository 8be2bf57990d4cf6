import { defineConfig } from 'prisma/config';

// The native schema engine cannot be downloaded here (see README, "Database").
// generate/validate/format do not use it, but the CLI checks that the file exists first.
// /bin/false makes any command that would need it (migrate, db push) fail loudly
// instead of silently doing nothing: Herald applies migrations itself (src/db/migrate.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= '/bin/false';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/herald' },
});
