-- webhook_deliveries becomes partitioned by day too (issue 18: "the same for delivery logs"), by
-- created_on, the UTC day of created_at. Its de-duplication key (endpoint_id, source) gains the
-- partition key: a source is delivered once per endpoint within a day (an event's deliveries are
-- made once, in the outbox relay's transaction; a repeat across midnight would be one more delivery,
-- which at-least-once allows). Rebuilt as 0012 rebuilt the inbox; nothing references it.
--
-- The inbox's partition maker becomes one function for both tables.
DROP FUNCTION "wxlive_inbox_ensure_partitions"(date, date);--> statement-breakpoint
-- Creates the daily partitions of [first_day, last_day] of `parent` that are missing, skipping a
-- day whose rows are already in the default partition (a partition cannot be made over them).
-- Safe to run concurrently; a busy table (lock_timeout) is left for the next run. Returns how many
-- it made. SECURITY DEFINER: the application role (DATABASE_APP_ROLE) cannot run DDL; only this.
CREATE FUNCTION "wxlive_ensure_day_partitions"(parent text, first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  key text;
  day date;
  part text;
  taken boolean;
  made integer := 0;
BEGIN
  key := CASE parent WHEN 'webhook_inbox' THEN 'pushed_on' WHEN 'webhook_deliveries' THEN 'created_on' END;
  IF key IS NULL THEN
    RAISE EXCEPTION 'not a table partitioned by day: %', parent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM set_config('lock_timeout', '2000', true);
  FOR day IN SELECT d::date FROM generate_series(first_day, last_day, interval '1 day') AS d LOOP
    part := parent || '_p' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', parent || '_default', key) USING day INTO taken;
    CONTINUE WHEN taken;
    BEGIN
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, day, day + 1);
      -- Reached only through the parent, whose policies apply (a partition has none of its own).
      EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, wxlive_app', part);
      made := made + 1;
    EXCEPTION
      -- Made meanwhile by another worker; a row of that day arrived in the default; busy.
      WHEN duplicate_table OR check_violation OR lock_not_available THEN NULL;
    END;
  END LOOP;
  RETURN made;
END $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "wxlive_ensure_day_partitions"(text, date, date) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "wxlive_ensure_day_partitions"(text, date, date) TO wxlive_app;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" RENAME TO "webhook_deliveries_unpartitioned";--> statement-breakpoint
ALTER TABLE "webhook_deliveries_unpartitioned" RENAME CONSTRAINT "webhook_deliveries_pkey" TO "webhook_deliveries_unpartitioned_pkey";--> statement-breakpoint
ALTER TABLE "webhook_deliveries_unpartitioned" DROP CONSTRAINT "webhook_deliveries_inbox_fk";--> statement-breakpoint
DROP INDEX "webhook_deliveries_endpoint_source_uq";--> statement-breakpoint
DROP INDEX "webhook_deliveries_tenant_created_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_endpoint_created_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_due_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_inbox_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_created_idx";--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"created_on" date NOT NULL,
	"tenant_id" uuid NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"source" text NOT NULL,
	"inbox_id" bigint,
	"inbox_pushed_on" date,
	"payload" text,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"last_response" text,
	"last_attempt_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone NOT NULL,
	"delivered_at" timestamp (3) with time zone,
	"next_attempt_at" timestamp (3) with time zone,
	CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY("id","created_on")
) PARTITION BY RANGE ("created_on");--> statement-breakpoint
CREATE TABLE "webhook_deliveries_default" PARTITION OF "webhook_deliveries" DEFAULT;--> statement-breakpoint
REVOKE ALL ON "webhook_deliveries_default" FROM PUBLIC, wxlive_app;--> statement-breakpoint
-- Drops each daily partition of the delivery log whose day ended before `cutoff`'s day and that
-- holds nothing still needed: no delivery made since the cutoff, none PENDING. A partition that is
-- needed, or busy (lock_timeout), is left for the next run. Returns the partitions dropped.
CREATE FUNCTION "wxlive_deliveries_drop_expired"(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text;
  day date;
  needed boolean;
BEGIN
  PERFORM set_config('lock_timeout', '2000', true);
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'webhook_deliveries'::regclass AND c.relname ~ '^webhook_deliveries_p[0-9]{8}$'
    ORDER BY c.relname
  LOOP
    day := to_date(substr(part, 21), 'YYYYMMDD');
    EXIT WHEN day + 1 > (cutoff AT TIME ZONE 'UTC')::date;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE status = ''PENDING'') OR EXISTS (SELECT 1 FROM %I WHERE created_at >= $1)', part, part)
      USING cutoff INTO needed;
    CONTINUE WHEN needed;
    BEGIN
      EXECUTE format('ALTER TABLE webhook_deliveries DETACH PARTITION %I', part);
      EXECUTE format('DROP TABLE %I', part);
      RETURN NEXT part;
    EXCEPTION WHEN lock_not_available THEN NULL;
    END;
  END LOOP;
END $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "wxlive_deliveries_drop_expired"(timestamptz) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "wxlive_deliveries_drop_expired"(timestamptz) TO wxlive_app;--> statement-breakpoint
-- A partition for each day the old rows were made on, and for yesterday to three days ahead.
DO $$
DECLARE
  span record;
BEGIN
  SELECT least(min((created_at AT TIME ZONE 'UTC')::date), (now() AT TIME ZONE 'UTC')::date - 1) AS first_day,
         (now() AT TIME ZONE 'UTC')::date + 3 AS last_day
  INTO span FROM webhook_deliveries_unpartitioned;
  PERFORM wxlive_ensure_day_partitions('webhook_deliveries', span.first_day, span.last_day);
END $$;--> statement-breakpoint
INSERT INTO "webhook_deliveries" ("id", "created_on", "tenant_id", "endpoint_id", "event_type", "source", "inbox_id", "inbox_pushed_on", "payload", "status", "attempts",
  "last_status_code", "last_error", "last_response", "last_attempt_at", "created_at", "delivered_at", "next_attempt_at")
SELECT "id", ("created_at" AT TIME ZONE 'UTC')::date, "tenant_id", "endpoint_id", "event_type", "source", "inbox_id", "inbox_pushed_on", "payload", "status", "attempts",
  "last_status_code", "last_error", "last_response", "last_attempt_at", "created_at", "delivered_at", "next_attempt_at"
FROM "webhook_deliveries_unpartitioned";--> statement-breakpoint
DROP TABLE "webhook_deliveries_unpartitioned";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_inbox_fk" FOREIGN KEY ("inbox_id","inbox_pushed_on") REFERENCES "public"."webhook_inbox"("id","pushed_on") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_endpoint_source_uq" ON "webhook_deliveries" USING btree ("endpoint_id","source","created_on");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_tenant_created_idx" ON "webhook_deliveries" USING btree ("tenant_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "webhook_deliveries_endpoint_created_idx" ON "webhook_deliveries" USING btree ("tenant_id","endpoint_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE "webhook_deliveries"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_inbox_idx" ON "webhook_deliveries" USING btree ("inbox_pushed_on","inbox_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_created_idx" ON "webhook_deliveries" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "webhook_deliveries_tenant_isolation" ON "webhook_deliveries" AS PERMISSIVE FOR ALL TO public USING ("webhook_deliveries"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("webhook_deliveries"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_deliveries" TO wxlive_app;
