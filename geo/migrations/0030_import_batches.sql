-- Import batches (导入批次): every import is one batch that can be listed and undone, and rows
-- with an office's own id (工单编号, household or place number) are updated in place on
-- re-import instead of duplicated (issue #14).
--
-- Why rows carry `import_batch` (the batch that created them) and updates are kept apart in
-- `import_batch_row`: undoing a batch must remove exactly its rows and put back what an
-- upsert or a replace overwrote, without a per-row log for the common case (a first import
-- of 100k rows writes no log rows at all). Reference data (categories, the risk
-- configuration) is seeded by `geo.reference` after the migrations, from data/.

CREATE TABLE import_batch (
    id           bigserial   PRIMARY KEY,
    layer        text        NOT NULL,
    file_name    text        NOT NULL,
    imported_by  text        NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    mode         text        NOT NULL CHECK (mode IN ('append', 'upsert', 'replace')),
    rows_read    integer     NOT NULL DEFAULT 0,
    inserted     integer     NOT NULL DEFAULT 0,
    updated      integer     NOT NULL DEFAULT 0,
    unchanged    integer     NOT NULL DEFAULT 0,
    removed      integer     NOT NULL DEFAULT 0,
    rejected     integer     NOT NULL DEFAULT 0,
    source_crs   text,
    encoding     text,
    note         text,
    undone_at    timestamptz,
    undone_by    text
);

-- What a batch overwrote: the row as it was before (update) or the row it removed (delete,
-- mode replace), as JSON of the whole row, so undo can restore it column for column.
CREATE TABLE import_batch_row (
    batch_id  bigint NOT NULL REFERENCES import_batch (id),
    tbl       text   NOT NULL,
    row_id    bigint NOT NULL,
    action    text   NOT NULL CHECK (action IN ('update', 'delete')),
    old       jsonb  NOT NULL,
    PRIMARY KEY (batch_id, tbl, row_id)
);
CREATE INDEX import_batch_row_row_idx ON import_batch_row (tbl, row_id);

ALTER TABLE household ADD COLUMN external_id text, ADD COLUMN import_batch bigint;
ALTER TABLE place ADD COLUMN external_id text, ADD COLUMN import_batch bigint;
ALTER TABLE incident ADD COLUMN external_id text, ADD COLUMN import_batch bigint;
ALTER TABLE grid_staff ADD COLUMN import_batch bigint;
ALTER TABLE admin_unit ADD COLUMN import_batch bigint;
ALTER TABLE grid ADD COLUMN import_batch bigint;
CREATE UNIQUE INDEX household_external_id_idx ON household (external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX place_external_id_idx ON place (external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX incident_external_id_idx ON incident (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX household_import_batch_idx ON household (import_batch) WHERE import_batch IS NOT NULL;
CREATE INDEX place_import_batch_idx ON place (import_batch) WHERE import_batch IS NOT NULL;
CREATE INDEX incident_import_batch_idx ON incident (import_batch) WHERE import_batch IS NOT NULL;

GRANT SELECT (external_id, import_batch) ON household, place, incident TO quanyu_web;

-- A ledger re-imported is the source system's word: its status may jump (已受理 -> 已办结)
-- along no edge of our workflow. The importer sets quanyu.import_sync for that statement
-- and writes the history row itself (incident_status_recorded still checks that it does).
CREATE OR REPLACE FUNCTION incident_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT incident_transition_allowed(OLD.status, NEW.status)
       AND COALESCE(current_setting('quanyu.import_sync', true), '') <> 'on' THEN
        RAISE EXCEPTION 'incident %: status % -> % is not an allowed transition (状态流转不允许)',
            OLD.id, OLD.status, NEW.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- History stays append-only, with one exception: undoing an import batch removes the
-- history of the incidents that batch created (and nothing else), when
-- quanyu.undo_batch names that batch.
CREATE FUNCTION incident_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND COALESCE(current_setting('quanyu.undo_batch', true), '') <> ''
       AND EXISTS (SELECT 1 FROM incident i WHERE i.id = OLD.incident_id
                     AND i.import_batch = current_setting('quanyu.undo_batch')::bigint) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
DROP TRIGGER incident_history_append_only ON incident_history;
CREATE TRIGGER incident_history_append_only BEFORE UPDATE OR DELETE ON incident_history
    FOR EACH ROW EXECUTE FUNCTION incident_history_guard();

-- Category aliases the user adds (12345 wordings such as 噪音扰民 -> a minor code), on top of
-- the shipped data/category_aliases.csv; `python -m geo import categories FILE` fills it.
CREATE TABLE category_alias (
    alias       text       PRIMARY KEY,
    minor_code  varchar(4) NOT NULL REFERENCES category (minor_code),
    added_at    timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON category_alias, import_batch TO quanyu_web;
