-- DropIndex
DROP INDEX "WorkflowDigest_notificationId_userId_openKey_key";

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowDigest_notificationId_userId_stepIndex_openKey_key" ON "WorkflowDigest"("notificationId", "userId", "stepIndex", "openKey");
