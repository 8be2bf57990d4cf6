-- Rows of users deleted before this constraint existed (nothing removed them): the constraint
-- could not be added over them, and nothing can read them.
DELETE FROM "WorkflowDigest" d WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = d."userId");
DELETE FROM "WorkflowThrottle" t WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = t."userId");

-- AddForeignKey
ALTER TABLE "WorkflowDigest" ADD CONSTRAINT "WorkflowDigest_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowThrottle" ADD CONSTRAINT "WorkflowThrottle_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
