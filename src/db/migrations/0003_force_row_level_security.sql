-- Row-level security switched on for real (issue 9). The policies are now declared next to the
-- tables (pgPolicy in tables.ts); they replace 0002's hand-written ones of the same names and
-- meaning. FORCE holds the tables' owner to them as well, so a deployment whose DATABASE_URL user
-- owns the tables is still fenced; superusers and BYPASSRLS roles are never subject to RLS.
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "authorizers" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "component_tickets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_application_events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_applications" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_inbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "api_keys_tenant_isolation" ON "api_keys";--> statement-breakpoint
CREATE POLICY "api_keys_tenant_isolation" ON "api_keys" AS PERMISSIVE FOR ALL TO public USING ("api_keys"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("api_keys"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
DROP POLICY IF EXISTS "authorizers_tenant_isolation" ON "authorizers";--> statement-breakpoint
CREATE POLICY "authorizers_tenant_isolation" ON "authorizers" AS PERMISSIVE FOR ALL TO public USING ("authorizers"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("authorizers"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
DROP POLICY IF EXISTS "component_tickets_tenant_isolation" ON "component_tickets";--> statement-breakpoint
CREATE POLICY "component_tickets_tenant_isolation" ON "component_tickets" AS PERMISSIVE FOR ALL TO public USING ("component_tickets"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("component_tickets"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
DROP POLICY IF EXISTS "live_application_events_tenant_isolation" ON "live_application_events";--> statement-breakpoint
CREATE POLICY "live_application_events_tenant_isolation" ON "live_application_events" AS PERMISSIVE FOR ALL TO public USING ("live_application_events"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("live_application_events"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
DROP POLICY IF EXISTS "live_applications_tenant_isolation" ON "live_applications";--> statement-breakpoint
CREATE POLICY "live_applications_tenant_isolation" ON "live_applications" AS PERMISSIVE FOR ALL TO public USING ("live_applications"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("live_applications"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
DROP POLICY IF EXISTS "tenants_tenant_isolation" ON "tenants";--> statement-breakpoint
CREATE POLICY "tenants_tenant_isolation" ON "tenants" AS PERMISSIVE FOR ALL TO public USING ("tenants"."id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("tenants"."id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
DROP POLICY IF EXISTS "webhook_inbox_tenant_isolation" ON "webhook_inbox";--> statement-breakpoint
CREATE POLICY "webhook_inbox_tenant_isolation" ON "webhook_inbox" AS PERMISSIVE FOR ALL TO public USING ("webhook_inbox"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on') WITH CHECK ("webhook_inbox"."tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid or current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "authorizers" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "component_tickets" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_application_events" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "live_applications" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_inbox" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
-- Tables and sequences later migrations create are granted to the app role as well.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO wxlive_app;--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO wxlive_app;--> statement-breakpoint
-- The app connects as the migrating user and switches to wxlive_app (DATABASE_APP_ROLE), which
-- needs membership unless that user is a superuser.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT wxlive_app TO %I', current_user);
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not grant wxlive_app to %: grant it by hand, or set DATABASE_APP_ROLE to a role this user may switch to', current_user;
END
$$;