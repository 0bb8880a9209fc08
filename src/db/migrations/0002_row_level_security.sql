-- Row-level security: a backstop behind the services' tenant scoping (issue 9).
-- wxlive_app is the role the application is meant to run as (not the tables' owner), so the
-- policies below apply to it. Roles are cluster-wide and test databases migrate in parallel:
-- a concurrent CREATE ROLE of the same name is caught and ignored.
DO $$
BEGIN
  CREATE ROLE wxlive_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO wxlive_app;--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'drizzle') THEN
    GRANT USAGE ON SCHEMA drizzle TO wxlive_app;
    GRANT SELECT ON ALL TABLES IN SCHEMA drizzle TO wxlive_app;
  END IF;
END
$$;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO wxlive_app;--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO wxlive_app;--> statement-breakpoint
ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "tenants_tenant_isolation" ON "tenants";--> statement-breakpoint
CREATE POLICY "tenants_tenant_isolation" ON "tenants" AS PERMISSIVE FOR ALL TO public
  USING ("id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "api_keys_tenant_isolation" ON "api_keys";--> statement-breakpoint
CREATE POLICY "api_keys_tenant_isolation" ON "api_keys" AS PERMISSIVE FOR ALL TO public
  USING ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "component_tickets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "component_tickets_tenant_isolation" ON "component_tickets";--> statement-breakpoint
CREATE POLICY "component_tickets_tenant_isolation" ON "component_tickets" AS PERMISSIVE FOR ALL TO public
  USING ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "authorizers" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "authorizers_tenant_isolation" ON "authorizers";--> statement-breakpoint
CREATE POLICY "authorizers_tenant_isolation" ON "authorizers" AS PERMISSIVE FOR ALL TO public
  USING ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "live_applications" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "live_applications_tenant_isolation" ON "live_applications";--> statement-breakpoint
CREATE POLICY "live_applications_tenant_isolation" ON "live_applications" AS PERMISSIVE FOR ALL TO public
  USING ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "live_application_events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "live_application_events_tenant_isolation" ON "live_application_events";--> statement-breakpoint
CREATE POLICY "live_application_events_tenant_isolation" ON "live_application_events" AS PERMISSIVE FOR ALL TO public
  USING ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');--> statement-breakpoint
ALTER TABLE "webhook_inbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS "webhook_inbox_tenant_isolation" ON "webhook_inbox";--> statement-breakpoint
CREATE POLICY "webhook_inbox_tenant_isolation" ON "webhook_inbox" AS PERMISSIVE FOR ALL TO public
  USING ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on')
  WITH CHECK ("tenant_id" = nullif(current_setting('wxlive.tenant_id', true), '')::uuid OR current_setting('wxlive.rls_bypass', true) = 'on');
