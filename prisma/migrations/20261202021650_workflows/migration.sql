-- CreateEnum
CREATE TYPE "WorkflowRunStatus" AS ENUM ('WAITING', 'RUNNING', 'COMPLETED', 'CANCELED', 'THROTTLED', 'MERGED', 'FAILED');

-- CreateEnum
CREATE TYPE "WorkflowStepKind" AS ENUM ('CHANNEL', 'DELAY', 'DIGEST', 'THROTTLE');

-- CreateEnum
CREATE TYPE "WorkflowStepStatus" AS ENUM ('RUNNING', 'WAITING', 'DONE', 'SKIPPED', 'THROTTLED', 'MERGED', 'CANCELED', 'FAILED');

-- CreateEnum
CREATE TYPE "DigestMode" AS ENUM ('FIXED', 'SLIDING');

-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "workflow" JSONB;

-- AlterTable
ALTER TABLE "Project" ADD COLUMN     "defaultTimezone" TEXT NOT NULL DEFAULT 'UTC';

-- CreateTable
CREATE TABLE "WorkflowRun" (
    "id" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "notificationId" INTEGER NOT NULL,
    "versionId" UUID,
    "userId" UUID NOT NULL,
    "transactionId" TEXT,
    "source" TEXT NOT NULL,
    "requestId" TEXT NOT NULL,
    "maxAttempts" INTEGER NOT NULL,
    "status" "WorkflowRunStatus" NOT NULL DEFAULT 'WAITING',
    "steps" JSONB NOT NULL,
    "cursor" INTEGER NOT NULL DEFAULT 0,
    "dueAt" TIMESTAMP(3),
    "leaseUntil" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "data" JSONB NOT NULL DEFAULT '{}',
    "drafts" JSONB NOT NULL DEFAULT '{}',
    "digestId" UUID,
    "reason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "WorkflowRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WorkflowStepState" (
    "runId" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "kind" "WorkflowStepKind" NOT NULL,
    "status" "WorkflowStepStatus" NOT NULL,
    "reason" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),
    "resumeAt" TIMESTAMP(3),
    "messageId" UUID,
    "digestId" UUID,

    CONSTRAINT "WorkflowStepState_pkey" PRIMARY KEY ("runId","index")
);

-- CreateTable
CREATE TABLE "WorkflowDigest" (
    "id" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "notificationId" INTEGER NOT NULL,
    "userId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "openKey" TEXT,
    "stepIndex" INTEGER NOT NULL,
    "mode" "DigestMode" NOT NULL,
    "runId" UUID NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 1,
    "events" JSONB NOT NULL DEFAULT '[]',
    "firstAt" TIMESTAMP(3) NOT NULL,
    "lastAt" TIMESTAMP(3) NOT NULL,
    "closeAt" TIMESTAMP(3) NOT NULL,
    "closedAt" TIMESTAMP(3),
    "inboxItemId" UUID,

    CONSTRAINT "WorkflowDigest_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WorkflowThrottle" (
    "projectId" UUID NOT NULL,
    "notificationId" INTEGER NOT NULL,
    "userId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "windowStart" TIMESTAMP(3) NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "WorkflowThrottle_pkey" PRIMARY KEY ("notificationId","userId","key")
);

-- CreateIndex
CREATE INDEX "WorkflowRun_status_dueAt_idx" ON "WorkflowRun"("status", "dueAt");

-- CreateIndex
CREATE INDEX "WorkflowRun_projectId_notificationId_userId_idx" ON "WorkflowRun"("projectId", "notificationId", "userId");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowRun_projectId_transactionId_key" ON "WorkflowRun"("projectId", "transactionId");

-- CreateIndex
CREATE INDEX "WorkflowDigest_projectId_closeAt_idx" ON "WorkflowDigest"("projectId", "closeAt");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowDigest_notificationId_userId_openKey_key" ON "WorkflowDigest"("notificationId", "userId", "openKey");

-- AddForeignKey
ALTER TABLE "WorkflowRun" ADD CONSTRAINT "WorkflowRun_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowRun" ADD CONSTRAINT "WorkflowRun_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowStepState" ADD CONSTRAINT "WorkflowStepState_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
