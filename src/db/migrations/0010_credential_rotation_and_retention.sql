ALTER TABLE "webhook_inbox" ALTER COLUMN "payload" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "previous_token_enc" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "previous_encoding_aes_key_enc" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "previous_credentials_until" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_created_idx" ON "webhook_deliveries" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "webhook_inbox_received_idx" ON "webhook_inbox" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "webhook_inbox_envelope_idx" ON "webhook_inbox" USING btree ("id") WHERE "webhook_inbox"."payload" is null and "webhook_inbox"."raw_body" is not null;