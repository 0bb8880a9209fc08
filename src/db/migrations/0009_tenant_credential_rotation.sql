ALTER TABLE "tenants" ADD COLUMN "previous_token_enc" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "previous_encoding_aes_key_enc" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "previous_credentials_until" timestamp (3) with time zone;