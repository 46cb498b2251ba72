-- Imports started from the 数据导入 page (issue #14, item 7) run in a thread of the worker
-- that received the click; their progress is a row here, so that the page's polling reads
-- it whichever worker answers (gunicorn runs several, sharing only the database).
CREATE TABLE import_job (
    id           bigserial   PRIMARY KEY,
    username     text        NOT NULL,
    layer        text        NOT NULL,
    file_name    text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    fraction     real        NOT NULL DEFAULT 0 CHECK (fraction BETWEEN 0 AND 1),
    message      text        NOT NULL DEFAULT '',
    finished_at  timestamptz,
    ok           boolean,
    result       jsonb
);
CREATE INDEX import_job_user_idx ON import_job (username, id DESC);
