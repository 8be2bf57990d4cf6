-- Retention (issue 14 item 9): per-project settings and the indexes the purge scans.
-- IF NOT EXISTS: on a large database, build the three indexes beforehand without blocking
-- writes (CREATE INDEX CONCURRENTLY IF NOT EXISTS ..., same names, outside a transaction);
-- this migration then only adds the two columns. See README "Retention".

-- AlterTable
ALTER TABLE "Project" ADD COLUMN     "inboxArchivedRetentionDays" INTEGER,
ADD COLUMN     "retentionDays" INTEGER;

-- CreateIndex
CREATE INDEX IF NOT EXISTS "Execution_projectId_createdAt_idx" ON "Execution"("projectId", "createdAt");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "InboxEvent_projectId_at_idx" ON "InboxEvent"("projectId", "at");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "InboxItem_projectId_archivedAt_idx" ON "InboxItem"("projectId", "archivedAt");
