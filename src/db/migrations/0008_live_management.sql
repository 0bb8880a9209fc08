CREATE TABLE "live_api_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"endpoint" text NOT NULL,
	"quota_group" text NOT NULL,
	"operation" text NOT NULL,
	"api_key_id" uuid,
	"request_id" text,
	"request" json NOT NULL,
	"outcome" text NOT NULL,
	"errcode" integer,
	"errmsg" text,
	"latency_ms" integer,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "live_api_calls" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "live_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"type" text NOT NULL,
	"subject_id" integer NOT NULL,
	"data" json NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "live_events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "live_goods" (
	"tenant_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"goods_id" integer NOT NULL,
	"audit_id" integer,
	"name" text NOT NULL,
	"cover_img_url" text DEFAULT '' NOT NULL,
	"url" text NOT NULL,
	"price_type" integer NOT NULL,
	"price" text NOT NULL,
	"price2" text,
	"audit_status" text NOT NULL,
	"gone_at" timestamp (3) with time zone,
	"synced_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "live_goods" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "live_rooms" (
	"tenant_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"room_id" integer NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"live_status" integer NOT NULL,
	"start_time" timestamp (3) with time zone NOT NULL,
	"end_time" timestamp (3) with time zone NOT NULL,
	"anchor_name" text NOT NULL,
	"cover_img" text DEFAULT '' NOT NULL,
	"share_img" text DEFAULT '' NOT NULL,
	"feeds_img" text DEFAULT '' NOT NULL,
	"settings" json NOT NULL,
	"goods" json NOT NULL,
	"gone_at" timestamp (3) with time zone,
	"synced_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "live_rooms" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "live_sync_state" (
	"tenant_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"next_sync_at" timestamp (3) with time zone NOT NULL,
	"lease_until" timestamp (3) with time zone,
	"last_synced_at" timestamp (3) with time zone,
	"last_error" text,
	"last_calls" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "live_sync_state" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_api_calls" ADD CONSTRAINT "live_api_calls_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_events" ADD CONSTRAINT "live_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_goods" ADD CONSTRAINT "live_goods_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_rooms" ADD CONSTRAINT "live_rooms_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_sync_state" ADD CONSTRAINT "live_sync_state_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "live_api_calls_tenant_app_created_idx" ON "live_api_calls" USING btree ("tenant_id","app_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "live_api_calls_quota_idx" ON "live_api_calls" USING btree ("tenant_id","app_id","quota_group","created_at");--> statement-breakpoint
CREATE INDEX "live_events_tenant_id_idx" ON "live_events" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "live_goods_pk" ON "live_goods" USING btree ("tenant_id","app_id","goods_id");--> statement-breakpoint
CREATE INDEX "live_goods_auditing_idx" ON "live_goods" USING btree ("tenant_id","app_id") WHERE "live_goods"."audit_status" = 'AUDITING' and "live_goods"."gone_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "live_rooms_pk" ON "live_rooms" USING btree ("tenant_id","app_id","room_id");--> statement-breakpoint
CREATE INDEX "live_rooms_tenant_app_start_idx" ON "live_rooms" USING btree ("tenant_id","app_id","start_time" DESC NULLS LAST,"room_id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "live_sync_state_pk" ON "live_sync_state" USING btree ("tenant_id","app_id");--> statement-breakpoint
CREATE INDEX "live_sync_state_due_idx" ON "live_sync_state" USING btree ("next_sync_at");--> statement-breakpoint
CREATE POLICY "live_api_calls_tenant_isolation" ON "live_api_calls" AS PERMISSIVE FOR ALL TO public USING ("live_api_calls"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("live_api_calls"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
CREATE POLICY "live_events_tenant_isolation" ON "live_events" AS PERMISSIVE FOR ALL TO public USING ("live_events"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("live_events"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
CREATE POLICY "live_goods_tenant_isolation" ON "live_goods" AS PERMISSIVE FOR ALL TO public USING ("live_goods"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("live_goods"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
CREATE POLICY "live_rooms_tenant_isolation" ON "live_rooms" AS PERMISSIVE FOR ALL TO public USING ("live_rooms"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("live_rooms"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
CREATE POLICY "live_sync_state_tenant_isolation" ON "live_sync_state" AS PERMISSIVE FOR ALL TO public USING ("live_sync_state"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("live_sync_state"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
-- hand-written below
ALTER TABLE "live_api_calls" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_rooms" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_goods" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_events" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_sync_state" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "live_api_calls", "live_rooms", "live_goods", "live_events", "live_sync_state" TO wxlive_app;--> statement-breakpoint
GRANT USAGE, SELECT ON SEQUENCE "live_api_calls_id_seq", "live_events_id_seq" TO wxlive_app;
