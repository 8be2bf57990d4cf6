-- CreateEnum
CREATE TYPE "BroadcastStatus" AS ENUM ('QUEUED', 'RUNNING', 'COMPLETED', 'CANCELED', 'FAILED');

-- CreateTable
CREATE TABLE "Topic" (
    "id" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Topic_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TopicSubscriber" (
    "topicId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TopicSubscriber_pkey" PRIMARY KEY ("topicId","userId")
);

-- CreateTable
CREATE TABLE "Broadcast" (
    "id" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "transactionId" TEXT NOT NULL,
    "topicId" UUID,
    "topicKey" TEXT,
    "filter" JSONB,
    "notificationId" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "status" "BroadcastStatus" NOT NULL DEFAULT 'QUEUED',
    "cursor" UUID,
    "total" INTEGER NOT NULL DEFAULT 0,
    "processed" INTEGER NOT NULL DEFAULT 0,
    "delivered" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "leaseUntil" TIMESTAMP(3),
    "leaseToken" UUID,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Broadcast_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Topic_projectId_id_idx" ON "Topic"("projectId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Topic_projectId_key_key" ON "Topic"("projectId", "key");

-- CreateIndex
CREATE INDEX "TopicSubscriber_userId_idx" ON "TopicSubscriber"("userId");

-- CreateIndex
CREATE INDEX "Broadcast_status_leaseUntil_idx" ON "Broadcast"("status", "leaseUntil");

-- CreateIndex
CREATE UNIQUE INDEX "Broadcast_projectId_transactionId_key" ON "Broadcast"("projectId", "transactionId");

-- CreateIndex
CREATE INDEX "User_projectId_id_idx" ON "User"("projectId", "id");

-- AddForeignKey
ALTER TABLE "Topic" ADD CONSTRAINT "Topic_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TopicSubscriber" ADD CONSTRAINT "TopicSubscriber_topicId_fkey" FOREIGN KEY ("topicId") REFERENCES "Topic"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TopicSubscriber" ADD CONSTRAINT "TopicSubscriber_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Broadcast" ADD CONSTRAINT "Broadcast_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
