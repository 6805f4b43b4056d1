-- Up Migration

-- The sweeper re-requests undelivered webhook deliveries of the last day (services/webhooks):
-- a range scan over that day alone, however many old deliveries were never taken.
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (created_at) WHERE delivered_at IS NULL;

-- Down Migration
DROP INDEX webhook_deliveries_recent;
