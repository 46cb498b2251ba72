-- Issue #17 (a province, the Citus path): every table holding rows of a unit carries its
-- distribution key, the administrative code (or a grid code that begins with it), so that a
-- plan's edits can be co-located with the plan on one worker. plan_edit was the one table
-- that reached its unit only through plan; it now carries the plan's admin_code, set by the
-- database on insert (callers need not know) and checked by tests/test_distribution_key.py.
ALTER TABLE plan_edit ADD COLUMN admin_code varchar(12);
UPDATE plan_edit e SET admin_code = p.admin_code FROM plan p WHERE p.id = e.plan_id;

CREATE FUNCTION plan_edit_admin_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.admin_code := (SELECT admin_code FROM plan WHERE id = NEW.plan_id);
    RETURN NEW;
END $$;
CREATE TRIGGER plan_edit_admin_code BEFORE INSERT OR UPDATE OF plan_id ON plan_edit
    FOR EACH ROW EXECUTE FUNCTION plan_edit_admin_code();
ALTER TABLE plan_edit ALTER COLUMN admin_code SET NOT NULL;
