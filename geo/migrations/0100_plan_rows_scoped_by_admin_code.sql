-- Row-level security on plan_grid and plan_edit reads the admin_code they carry, as every
-- other scoped table does, instead of looking their plan up by id for each row (0016): the
-- policy names the distribution key (issue #17, the Citus path) and costs no per-row lookup.
-- The same rows as before, because the column is always the plan's: a trigger fills it from
-- the plan on insert and whenever plan_id or admin_code is written (0075, 0097), reading the
-- plan as the writer, so a plan the writer cannot see gives NULL, which WITH CHECK refuses
-- (a row naming another unit's plan is refused whatever admin_code it states), and a plan
-- moved to another unit takes its rows along. tests/test_security.py holds both sides.
ALTER POLICY scope ON plan_grid USING (in_scope(admin_code)) WITH CHECK (in_scope(admin_code));
ALTER POLICY scope ON plan_edit USING (in_scope(admin_code)) WITH CHECK (in_scope(admin_code));
