-- The masks are called while a backup is restored (generated columns are recomputed under
-- pg_restore's empty search_path), so a mask that calls another names its schema.
CREATE OR REPLACE FUNCTION mask_phone(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT public.mask_middle(v, 3, 4)
$$;

CREATE OR REPLACE FUNCTION mask_id(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT public.mask_middle(v, 6, 4)
$$;

CREATE OR REPLACE FUNCTION in_scope(code text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT code LIKE public.quanyu_scope() || '%'
$$;

CREATE OR REPLACE FUNCTION quanyu_unit() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('quanyu.unit', true), ''), public.quanyu_scope())
$$;
