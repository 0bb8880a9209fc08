-- API key scopes become a set. Existing keys keep what they could do: a write key also read (every
-- key could run queries), so 'write' becomes {read,write} and 'read' stays {read}.
ALTER TABLE "api_keys" ADD COLUMN "scopes" text[];--> statement-breakpoint
UPDATE "api_keys" SET "scopes" = CASE "scope" WHEN 'write' THEN ARRAY['read', 'write']::text[] ELSE ARRAY['read']::text[] END;--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "scopes" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" DROP COLUMN "scope";--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_scopes_check" CHECK (cardinality("api_keys"."scopes") > 0 and "api_keys"."scopes" <@ array['read', 'write', 'token', 'admin']::text[]);
-- Nothing to grant: wxlive_app's table-wide grants on api_keys (0002) cover a new column.
