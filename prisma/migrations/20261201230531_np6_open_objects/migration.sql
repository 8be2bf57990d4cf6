-- AlterTable
ALTER TABLE "InboxItem" ADD COLUMN     "thumbnail" TEXT;

-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "extra" JSONB;

-- AlterTable
ALTER TABLE "NotificationVersion" ADD COLUMN     "extra" JSONB,
ADD COLUMN     "np6Content" JSONB;

-- NP6's push-app is a mobile app push. Herald used to map it to web push, so push-app
-- notifications of projects without a web push provider failed every delivery ("no WEB_PUSH
-- provider is configured"). Until Herald has a mobile push channel they go to the in-app inbox;
-- projects that configured web push keep it.
UPDATE "Notification" n SET "channels" = ARRAY['IN_APP']::"Channel"[]
WHERE n."type" = 'push-app' AND n."channels" = ARRAY['WEB_PUSH']::"Channel"[]
  AND NOT EXISTS (SELECT 1 FROM "ProviderConfig" p WHERE p."projectId" = n."projectId" AND p."channel" = 'WEB_PUSH' AND p."enabled");
