-- Rows of projects deleted before this constraint existed (nothing removed them): the constraint
-- could not be added over them, and nothing can read them.
DELETE FROM "WorkflowDigest" d WHERE NOT EXISTS (SELECT 1 FROM "Project" p WHERE p.id = d."projectId");
DELETE FROM "WorkflowThrottle" t WHERE NOT EXISTS (SELECT 1 FROM "Project" p WHERE p.id = t."projectId");

-- AddForeignKey
ALTER TABLE "WorkflowDigest" ADD CONSTRAINT "WorkflowDigest_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowThrottle" ADD CONSTRAINT "WorkflowThrottle_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
