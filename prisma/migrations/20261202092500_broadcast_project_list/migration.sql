-- CreateIndex
CREATE INDEX "Broadcast_projectId_id_idx" ON "Broadcast"("projectId", "id");
