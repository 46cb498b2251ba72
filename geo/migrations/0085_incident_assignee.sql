-- Issue #20: whom a case was dispatched to (派遣给) is a fact of the case, not prose in a
-- note: the work queue shows it as a column and filters nothing out of a free text, and
-- each dispatch in the history names its own assignee (a case re-dispatched after a
-- return keeps both). Null until the first dispatch; set by lifecycle.transition only.
ALTER TABLE incident ADD COLUMN assigned_to text CHECK (assigned_to IS NULL OR char_length(assigned_to) <= 80);
ALTER TABLE incident_history ADD COLUMN assigned_to text CHECK (assigned_to IS NULL OR char_length(assigned_to) <= 80);

GRANT SELECT (assigned_to) ON incident TO quanyu_web;
GRANT UPDATE (assigned_to) ON incident TO quanyu_operator, quanyu_grid_worker;
