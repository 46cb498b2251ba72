-- Backups restored with tables before the masks they use. The masks were SQL functions with
-- string bodies, whose calls PostgreSQL does not record as dependencies, so pg_dump may place
-- mask_middle after a table whose generated column inlines mask_phone -> mask_middle (it did
-- once the alarm functions pulled `incident` forward: "function public.mask_middle does not
-- exist ... during inlining", and the restore failed). With SQL-standard bodies (BEGIN ATOMIC)
-- the calls are dependencies and pg_dump orders mask_middle, then the masks, then the tables.
-- Same results, character for character (tests/test_security.py holds them equal to Python's).
CREATE OR REPLACE FUNCTION mask_middle(v text, keep_start integer, keep_end integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN v IS NULL OR v = '' THEN v ELSE (
        SELECT left(t, ks) || repeat('*', char_length(t) - ks - ke) || right(t, ke)
          FROM (SELECT btrim(v) AS t) s,
               LATERAL (SELECT CASE WHEN char_length(s.t) < keep_start + keep_end + 4 THEN char_length(s.t) / 4 ELSE keep_start END AS ks,
                               CASE WHEN char_length(s.t) < keep_start + keep_end + 4 THEN char_length(s.t) / 4 ELSE keep_end END AS ke) k)
    END;
END;

CREATE OR REPLACE FUNCTION mask_phone(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT public.mask_middle(v, 3, 4);
END;

CREATE OR REPLACE FUNCTION mask_id(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT public.mask_middle(v, 6, 4);
END;
