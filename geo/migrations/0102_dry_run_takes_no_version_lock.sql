-- A dry run (the import page's preview, `import --dry-run`) bumps no data version. It
-- imports inside a transaction that is rolled back, and its statement triggers bumped
-- data_version: the row of 'incident' stayed locked until the rollback, so every other
-- writer of incidents (Open311 reports, the intake form, a grid worker's report) waited
-- for the whole preview. A 3 MB ledger of 50,000 rows previewed on 数据导入 made every
-- Open311 POST a 503 after its 5 s limit for as long as the preview ran; a preview that
-- never ended (a GeoPackage whose layer was a recursive view) stopped them for good.
-- The bump would be rolled back anyway: skipping it changes nothing anybody can see.
-- The importer sets quanyu.dry_run for the dry run's transaction only (SET LOCAL).
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF current_setting('quanyu.dry_run', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO data_version AS d (name) VALUES (TG_TABLE_NAME)
    ON CONFLICT (name) DO UPDATE SET version = d.version + 1, changed_at = now();
    RETURN NULL;
END $$;
