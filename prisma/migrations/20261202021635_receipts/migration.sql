-- CreateEnum
CREATE TYPE "MessageEventKind" AS ENUM ('OPENED', 'CLICKED', 'DEFERRED', 'COMPLAINED');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "MessageStatus" ADD VALUE 'BOUNCED';
ALTER TYPE "MessageStatus" ADD VALUE 'READ';

-- AlterTable
ALTER TABLE "MessageEvent" ADD COLUMN     "kind" "MessageEventKind",
ADD COLUMN     "url" TEXT;

-- CreateTable
CREATE TABLE "Suppression" (
    "id" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "channel" "Channel" NOT NULL,
    "address" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "messageId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Suppression_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Suppression_projectId_id_idx" ON "Suppression"("projectId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Suppression_projectId_channel_address_key" ON "Suppression"("projectId", "channel", "address");

-- CreateIndex
CREATE INDEX "Message_projectId_providerMessageId_idx" ON "Message"("projectId", "providerMessageId");

-- AddForeignKey
ALTER TABLE "Suppression" ADD CONSTRAINT "Suppression_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
