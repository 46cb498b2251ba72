-- Issue #17 (a province, the Citus path): a plan's grids lie under the plan's unit, so
-- plan_grid carries the plan's admin_code, as plan_edit does since 0075, and publishing
-- joins plan_grid to plan on it (geo/planning/publish.py): the join names the key of both
-- sides and stays on one worker. Set by the database on insert (callers need not know),
-- re-derived when a row changes plan or someone writes the column, and followed when a
-- plan itself moves to another unit (nothing in the app does that, but a planner's role
-- may UPDATE plan), for plan_edit too, which 0075 left to insert time only.
-- Row-level security on plan_grid stays as it was (through its plan), so nobody sees
-- more or less than before. tests/test_distribution_key.py checks the column and the join.
ALTER TABLE plan_grid ADD COLUMN admin_code varchar(12);
UPDATE plan_grid g SET admin_code = p.admin_code FROM plan p WHERE p.id = g.plan_id;

CREATE FUNCTION plan_grid_admin_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.admin_code := (SELECT admin_code FROM plan WHERE id = NEW.plan_id);
    RETURN NEW;
END $$;
CREATE TRIGGER plan_grid_admin_code BEFORE INSERT OR UPDATE OF plan_id, admin_code ON plan_grid
    FOR EACH ROW EXECUTE FUNCTION plan_grid_admin_code();
ALTER TABLE plan_grid ALTER COLUMN admin_code SET NOT NULL;

DROP TRIGGER plan_edit_admin_code ON plan_edit;
CREATE TRIGGER plan_edit_admin_code BEFORE INSERT OR UPDATE OF plan_id, admin_code ON plan_edit
    FOR EACH ROW EXECUTE FUNCTION plan_edit_admin_code();

-- A plan moved to another unit takes its grids and edits along (their triggers read the
-- plan's new code).
CREATE FUNCTION plan_admin_code_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE plan_grid SET admin_code = NEW.admin_code WHERE plan_id = NEW.id;
    UPDATE plan_edit SET admin_code = NEW.admin_code WHERE plan_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER plan_admin_code_follow AFTER UPDATE OF admin_code ON plan
    FOR EACH ROW WHEN (OLD.admin_code IS DISTINCT FROM NEW.admin_code) EXECUTE FUNCTION plan_admin_code_follow();
