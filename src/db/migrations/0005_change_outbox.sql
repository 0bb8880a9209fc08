CREATE TABLE "change_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"payload" json NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "change_outbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "change_outbox" ADD CONSTRAINT "change_outbox_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "change_outbox_created_idx" ON "change_outbox" USING btree ("created_at","id");--> statement-breakpoint
CREATE POLICY "change_outbox_tenant_isolation" ON "change_outbox" AS PERMISSIVE FOR ALL TO public USING ("change_outbox"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("change_outbox"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
ALTER TABLE "change_outbox" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "change_outbox" TO wxlive_app;--> statement-breakpoint
GRANT USAGE, SELECT ON SEQUENCE "change_outbox_id_seq" TO wxlive_app;--> statement-breakpoint
-- Stable codes of the closed vocabulary (src/services/errors.ts) for what were ad-hoc strings.
UPDATE "live_applications" SET "error_code" = 'SUBMISSION_EXPIRED' WHERE "error_code" = 'EXPIRED';
