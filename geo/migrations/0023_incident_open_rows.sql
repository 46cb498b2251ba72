-- The open incidents' columns the big screen reads on every refresh, in one covering
-- partial index (issue #8 规模).
--
-- Why: "open" and "overdue" (KPIs, town ranking) are read from the open rows themselves,
-- since overdue changes with the clock. At city scale the 118,000 open incidents are
-- scattered over 60,000 heap pages of a 2-million-row table, so reading them costs about
-- 0.5 s of I/O; from this index (an index-only scan once VACUUM has marked the pages
-- visible) it costs about 40 ms. geo.dashboard reads them once per data version and counts
-- "overdue" against the clock in memory. The status list is the open statuses of
-- geo/lifecycle.py (every status but closed, followed_up and cancelled).
CREATE INDEX incident_open_rows_idx ON incident (status) INCLUDE (admin_code, deadline, reported_at, closed_at)
 WHERE status IN ('received', 'registered', 'dispatched', 'in_progress', 'verified', 'returned', 'escalated');
