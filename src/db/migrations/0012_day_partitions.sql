-- webhook_inbox and webhook_deliveries become partitioned by day (issue 18): retention drops a
-- whole day instead of deleting row by row, and its cost does not grow with the tables.
--
-- webhook_inbox is partitioned by pushed_on, the UTC day of the push's own CreateTime, which every
-- one of WeChat's redeliveries carries unchanged, so it can be part of the de-duplication key (a
-- unique index on a partitioned table must include the partition key). Rows stored before this
-- migration get the day they were received.
--
-- webhook_deliveries is partitioned by created_on, the UTC day of created_at. Its de-duplication
-- key (endpoint_id, source) gains the partition key: a source is delivered once per endpoint within
-- a day (an event's deliveries are made once, in the outbox relay's transaction; a repeat across
-- midnight would be one more delivery, which at-least-once allows). Its foreign key to the inbox
-- becomes (inbox_id, inbox_pushed_on).
--
-- Both tables are rebuilt (rename, create, copy, drop): Postgres cannot partition a table in place.
-- The DDL that runs later (making partitions, dropping expired ones) is in two SECURITY DEFINER
-- functions: the application role (DATABASE_APP_ROLE) cannot run DDL; only these.
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_inbox_id_webhook_inbox_id_fk";--> statement-breakpoint
DROP INDEX "webhook_deliveries_inbox_idx";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "inbox_pushed_on" date;--> statement-breakpoint
ALTER TABLE "webhook_inbox" RENAME TO "webhook_inbox_unpartitioned";--> statement-breakpoint
ALTER TABLE "webhook_inbox_unpartitioned" RENAME CONSTRAINT "webhook_inbox_pkey" TO "webhook_inbox_unpartitioned_pkey";--> statement-breakpoint
DROP INDEX "webhook_inbox_dedup_uq";--> statement-breakpoint
DROP INDEX "webhook_inbox_unprocessed_idx";--> statement-breakpoint
DROP INDEX "webhook_inbox_received_idx";--> statement-breakpoint
DROP INDEX "webhook_inbox_envelope_idx";--> statement-breakpoint
-- The id sequence carries over (ids stay unique across the rebuild and after it).
ALTER SEQUENCE "webhook_inbox_id_seq" OWNED BY NONE;--> statement-breakpoint
CREATE TABLE "webhook_inbox" (
	"id" bigint DEFAULT nextval('webhook_inbox_id_seq') NOT NULL,
	"pushed_on" date NOT NULL,
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"app_id" text,
	"event_type" text NOT NULL,
	"dedup_key" text NOT NULL,
	"payload" text,
	"raw_query" text,
	"raw_body" bytea,
	"content_type" text,
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	CONSTRAINT "webhook_inbox_pkey" PRIMARY KEY("id","pushed_on")
) PARTITION BY RANGE ("pushed_on");--> statement-breakpoint
ALTER SEQUENCE "webhook_inbox_id_seq" OWNED BY "webhook_inbox"."id";--> statement-breakpoint
-- Pushes of a day that has no partition (a CreateTime far from now, or days no worker made
-- ahead): retention removes them row by row.
CREATE TABLE "webhook_inbox_default" PARTITION OF "webhook_inbox" DEFAULT;--> statement-breakpoint
REVOKE ALL ON "webhook_inbox_default" FROM PUBLIC, wxlive_app;--> statement-breakpoint
-- Creates the daily partitions of [first_day, last_day] of `parent` (one of the two tables) that
-- are missing, skipping a day whose rows are already in the default partition (a partition cannot
-- be made over them). Safe to run concurrently; a busy table (lock_timeout) is left for the next
-- run. Returns how many it made.
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
-- Drops each daily partition of `parent` whose day ended before `cutoff`'s day and that holds
-- nothing still needed. The inbox: no push received since the cutoff, none unprocessed, no PENDING
-- relay delivery (its finished relay deliveries go with it, the rule the foreign key's cascade keeps
-- for single rows). The delivery log: no delivery made since the cutoff, none PENDING. A partition
-- that is needed, or busy (lock_timeout), is left for the next run. Returns the partitions dropped.
-- Runs in the caller's scope: the system scope (RLS bypass) sees every row.
CREATE FUNCTION "wxlive_drop_expired_day_partitions"(parent text, cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  p record;
  needed boolean;
BEGIN
  IF parent NOT IN ('webhook_inbox', 'webhook_deliveries') THEN
    RAISE EXCEPTION 'not a table partitioned by day: %', parent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM set_config('lock_timeout', '2000', true);
  FOR p IN
    SELECT c.relname AS part, to_date(right(c.relname, 8), 'YYYYMMDD') AS day
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
    ORDER BY c.relname
  LOOP
    EXIT WHEN p.day + 1 > (cutoff AT TIME ZONE 'UTC')::date;
    -- Two EXISTS, not one OR: each is answered from its own index.
    IF parent = 'webhook_inbox' THEN
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE processed_at IS NULL) OR EXISTS (SELECT 1 FROM %I WHERE received_at >= $1)', p.part, p.part)
        USING cutoff INTO needed;
      needed := needed OR EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.status = 'PENDING' AND d.inbox_pushed_on = p.day);
    ELSE
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE status = ''PENDING'') OR EXISTS (SELECT 1 FROM %I WHERE created_at >= $1)', p.part, p.part)
        USING cutoff INTO needed;
    END IF;
    CONTINUE WHEN needed;
    BEGIN
      IF parent = 'webhook_inbox' THEN
        DELETE FROM webhook_deliveries WHERE inbox_pushed_on = p.day;
      END IF;
      EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, p.part);
      EXECUTE format('DROP TABLE %I', p.part);
      RETURN NEXT p.part;
    EXCEPTION WHEN lock_not_available THEN NULL;
    END;
  END LOOP;
END $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "wxlive_ensure_day_partitions"(text, date, date) FROM PUBLIC;--> statement-breakpoint
REVOKE ALL ON FUNCTION "wxlive_drop_expired_day_partitions"(text, timestamptz) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "wxlive_ensure_day_partitions"(text, date, date) TO wxlive_app;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "wxlive_drop_expired_day_partitions"(text, timestamptz) TO wxlive_app;--> statement-breakpoint
-- A partition for each day the old rows were received on, and for yesterday to three days ahead.
DO $$
DECLARE
  span record;
BEGIN
  SELECT least(min((received_at AT TIME ZONE 'UTC')::date), (now() AT TIME ZONE 'UTC')::date - 1) AS first_day,
         (now() AT TIME ZONE 'UTC')::date + 3 AS last_day
  INTO span FROM webhook_inbox_unpartitioned;
  PERFORM wxlive_ensure_day_partitions('webhook_inbox', span.first_day, span.last_day);
END $$;--> statement-breakpoint
INSERT INTO "webhook_inbox" ("id", "pushed_on", "tenant_id", "kind", "app_id", "event_type", "dedup_key", "payload", "raw_query", "raw_body", "content_type", "received_at", "processed_at", "attempts", "last_error")
SELECT "id", ("received_at" AT TIME ZONE 'UTC')::date, "tenant_id", "kind", "app_id", "event_type", "dedup_key", "payload", "raw_query", "raw_body", "content_type", "received_at", "processed_at", "attempts", "last_error"
FROM "webhook_inbox_unpartitioned";--> statement-breakpoint
UPDATE "webhook_deliveries" d SET "inbox_pushed_on" = i."pushed_on" FROM "webhook_inbox" i WHERE d."inbox_id" = i."id";--> statement-breakpoint
DROP TABLE "webhook_inbox_unpartitioned";--> statement-breakpoint
ALTER TABLE "webhook_inbox" ADD CONSTRAINT "webhook_inbox_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_inbox_dedup_uq" ON "webhook_inbox" USING btree ("tenant_id","dedup_key","pushed_on");--> statement-breakpoint
CREATE INDEX "webhook_inbox_unprocessed_idx" ON "webhook_inbox" USING btree ("received_at") WHERE "webhook_inbox"."processed_at" is null;--> statement-breakpoint
CREATE INDEX "webhook_inbox_received_idx" ON "webhook_inbox" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "webhook_inbox_envelope_idx" ON "webhook_inbox" USING btree ("id") WHERE "webhook_inbox"."payload" is null and "webhook_inbox"."raw_body" is not null;--> statement-breakpoint
ALTER TABLE "webhook_inbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_inbox" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "webhook_inbox_tenant_isolation" ON "webhook_inbox" AS PERMISSIVE FOR ALL TO public USING ("webhook_inbox"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("webhook_inbox"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_inbox" TO wxlive_app;--> statement-breakpoint
-- The delivery log, rebuilt the same way (its inbox foreign key and index are made with it).
ALTER TABLE "webhook_deliveries" RENAME TO "webhook_deliveries_unpartitioned";--> statement-breakpoint
ALTER TABLE "webhook_deliveries_unpartitioned" RENAME CONSTRAINT "webhook_deliveries_pkey" TO "webhook_deliveries_unpartitioned_pkey";--> statement-breakpoint
DROP INDEX "webhook_deliveries_endpoint_source_uq";--> statement-breakpoint
DROP INDEX "webhook_deliveries_tenant_created_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_endpoint_created_idx";--> statement-breakpoint
DROP INDEX "webhook_deliveries_due_idx";--> statement-breakpoint
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
