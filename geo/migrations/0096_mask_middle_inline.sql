-- mask_middle (the phone and id masks) written as one expression, so that PostgreSQL inlines
-- it into the generated columns that call it (incident.reporter_phone_masked,
-- household.phone_masked): with its sub-selects it ran as a SQL function call per row, about
-- 6 us each, NULL phones included, 12 s of a 2-million-row history load (issue #17 item 3).
-- Same results, character for character (tests/test_security.py holds them equal to
-- Python's): the first and last `keep` characters of the trimmed text, a quarter of it each
-- when the text is shorter than keep_start + keep_end + 4, stars between.
CREATE OR REPLACE FUNCTION mask_middle(v text, keep_start integer, keep_end integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN v IS NULL OR v = '' THEN v
                WHEN char_length(btrim(v)) < keep_start + keep_end + 4 THEN
                     left(btrim(v), char_length(btrim(v)) / 4)
                     || repeat('*', char_length(btrim(v)) - 2 * (char_length(btrim(v)) / 4))
                     || right(btrim(v), char_length(btrim(v)) / 4)
                ELSE left(btrim(v), keep_start) || repeat('*', char_length(btrim(v)) - keep_start - keep_end)
                     || right(btrim(v), keep_end)
           END;
END;
