-- webhook_inbox becomes partitioned by day (issue 18): retention drops a whole day of pushes
-- instead of deleting them row by row. The partition key is pushed_on, the UTC day of the push's
-- own CreateTime, which every one of WeChat's redeliveries carries unchanged, so it can be part of
-- the de-duplication key (a unique index on a partitioned table must include the partition key).
-- Rows stored before this migration get the day they were received.
--
-- The table is rebuilt (rename, create, copy, drop): Postgres cannot partition a table in place.
-- webhook_deliveries' foreign key follows it: (inbox_id, inbox_pushed_on).
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
-- Creates the daily partitions of [first_day, last_day] that are missing, skipping a day whose
-- pushes are already in the default partition (a partition cannot be made over them). Safe to run
-- concurrently; a busy table (lock_timeout) is left for the next run. Returns how many it made.
-- SECURITY DEFINER: the application role (DATABASE_APP_ROLE) cannot run DDL; only this.
CREATE FUNCTION "wxlive_inbox_ensure_partitions"(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  day date;
  part text;
  made integer := 0;
BEGIN
  PERFORM set_config('lock_timeout', '2000', true);
  FOR day IN SELECT d::date FROM generate_series(first_day, last_day, interval '1 day') AS d LOOP
    part := 'webhook_inbox_p' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    CONTINUE WHEN EXISTS (SELECT 1 FROM webhook_inbox_default WHERE pushed_on = day);
    BEGIN
      EXECUTE format('CREATE TABLE %I PARTITION OF webhook_inbox FOR VALUES FROM (%L) TO (%L)', part, day, day + 1);
      -- Reached only through webhook_inbox, whose policies apply (a partition has none of its own).
      EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, wxlive_app', part);
      made := made + 1;
    EXCEPTION
      -- Made meanwhile by another worker; a push of that day arrived in the default; busy.
      WHEN duplicate_table OR check_violation OR lock_not_available THEN NULL;
    END;
  END LOOP;
  RETURN made;
END $$;--> statement-breakpoint
-- Drops each daily partition whose day ended before `cutoff`'s day and that holds nothing still
-- needed: no push received since the cutoff, none unprocessed, no PENDING relay delivery. Its
-- finished relay deliveries go with it (the rule the foreign key's cascade keeps for single rows).
-- A partition that is needed, or busy (lock_timeout), is left for the next run. Returns the
-- partitions dropped. Runs in the caller's scope: the system scope (RLS bypass) sees every row.
CREATE FUNCTION "wxlive_inbox_drop_expired"(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text;
  day date;
  needed boolean;
BEGIN
  PERFORM set_config('lock_timeout', '2000', true);
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'webhook_inbox'::regclass AND c.relname ~ '^webhook_inbox_p[0-9]{8}$'
    ORDER BY c.relname
  LOOP
    day := to_date(substr(part, 16), 'YYYYMMDD');
    EXIT WHEN day + 1 > (cutoff AT TIME ZONE 'UTC')::date;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE processed_at IS NULL) OR EXISTS (SELECT 1 FROM %I WHERE received_at >= $1)', part, part)
      USING cutoff INTO needed;
    CONTINUE WHEN needed;
    CONTINUE WHEN EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.status = 'PENDING' AND d.inbox_pushed_on = day);
    BEGIN
      DELETE FROM webhook_deliveries WHERE inbox_pushed_on = day;
      EXECUTE format('ALTER TABLE webhook_inbox DETACH PARTITION %I', part);
      EXECUTE format('DROP TABLE %I', part);
      RETURN NEXT part;
    EXCEPTION WHEN lock_not_available THEN NULL;
    END;
  END LOOP;
END $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "wxlive_inbox_ensure_partitions"(date, date) FROM PUBLIC;--> statement-breakpoint
REVOKE ALL ON FUNCTION "wxlive_inbox_drop_expired"(timestamptz) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "wxlive_inbox_ensure_partitions"(date, date) TO wxlive_app;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "wxlive_inbox_drop_expired"(timestamptz) TO wxlive_app;--> statement-breakpoint
-- A partition for each day the old rows were received on, and for yesterday to three days ahead.
DO $$
DECLARE
  span record;
BEGIN
  SELECT least(min((received_at AT TIME ZONE 'UTC')::date), (now() AT TIME ZONE 'UTC')::date - 1) AS first_day,
         (now() AT TIME ZONE 'UTC')::date + 3 AS last_day
  INTO span FROM webhook_inbox_unpartitioned;
  PERFORM wxlive_inbox_ensure_partitions(span.first_day, span.last_day);
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
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_inbox_fk" FOREIGN KEY ("inbox_id","inbox_pushed_on") REFERENCES "public"."webhook_inbox"("id","pushed_on") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_inbox_idx" ON "webhook_deliveries" USING btree ("inbox_pushed_on","inbox_id");--> statement-breakpoint
ALTER TABLE "webhook_inbox" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_inbox" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "webhook_inbox_tenant_isolation" ON "webhook_inbox" AS PERMISSIVE FOR ALL TO public USING ("webhook_inbox"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on') WITH CHECK ("webhook_inbox"."tenant_id" = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on');--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_inbox" TO wxlive_app;
