-- Issue #17 (a cold process within budget): the per-day values of the big screen's caches
-- (geo/cache.py Days: the year's counts per day, the open rows per reported day, 90 days of
-- heat per day) kept in the database as well as in a worker's memory, so that a new worker
-- reads a few hundred small rows instead of rescanning a year of incident_daily (about
-- two million rows at city scale). Each row is tagged with its day's version from
-- incident_day_version (0024), exactly as in memory: a day whose version moved is re-read.
--
-- Row-level security: a value is computed under one account's role and unit, so it is
-- kept for that role and unit only (owner_key, filled in by the database, never by the
-- caller) and read back by the same only; the app's owner keeps its own rows too.
-- Values are encoded as tagged JSON (geo/cache.py encode/decode), never pickled: nothing
-- read from here can run code.
CREATE TABLE day_cache (
    family    text   NOT NULL,   -- md5 of the cache family's key (query, scope, database, generation)
    day       date   NOT NULL,   -- '-infinity': the family was read complete (every day with rows)
    version   bigint NOT NULL,   -- the day's version in incident_day_version when it was read
    payload   bytea  NOT NULL,
    owner_key text   NOT NULL DEFAULT (current_user || '|' || COALESCE(current_setting('quanyu.scope', true), '')),
    saved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_key, family, day)
);
REVOKE ALL ON day_cache FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON day_cache TO quanyu_web;
ALTER TABLE day_cache ENABLE ROW LEVEL SECURITY;
CREATE POLICY day_cache_own ON day_cache
    USING (owner_key = current_user || '|' || COALESCE(current_setting('quanyu.scope', true), ''))
    WITH CHECK (owner_key = current_user || '|' || COALESCE(current_setting('quanyu.scope', true), ''));

-- The truncation of incidents (tests, a county starting again) moves the generation of the
-- day log, which is part of every family's key: old rows become unreachable, and this drops them.
CREATE FUNCTION day_cache_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM day_cache;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_day_cache_truncate AFTER TRUNCATE ON incident FOR EACH STATEMENT
    EXECUTE FUNCTION day_cache_forget();
