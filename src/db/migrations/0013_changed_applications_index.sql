-- A subscription replays from Postgres what the change stream no longer holds (Redis lost it,
-- or trimmed past the subscriber's cursor): the tenant's applications changed since an instant,
-- keyset-paginated on (updated_at, id). A plain CREATE INDEX (migrations run in a transaction):
-- it blocks writes to live_applications for as long as it builds.
CREATE INDEX "live_applications_changed_idx" ON "live_applications" USING btree ("tenant_id","updated_at","id");
