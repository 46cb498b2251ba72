-- The maintenance job makes months for rows waiting in the default partition only where a
-- month is plausible and only a few at a time: a ledger's stray dates (1970, 2099) would
-- otherwise become hundreds of partitions, each with every index of incident, and every
-- query that does not bound reported_at is planned over all of them. Months within ten
-- years back and a year ahead, at most 24 per run (the next run takes the next ones); rows
-- of other months stay in the default partition, where they are still found by every query.
CREATE OR REPLACE FUNCTION incident_partitions_ensure(months_ahead integer DEFAULT 3) RETURNS text[]
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    RETURN incident_partitions_make(ARRAY(
        SELECT incident_month_add(now(), k) FROM generate_series(0, months_ahead) k
        UNION (SELECT m FROM (SELECT incident_month(reported_at) AS m, count(*) AS n FROM incident_pdefault
                               WHERE reported_at >= incident_month_add(now(), -120) AND reported_at < incident_month_add(now(), 12)
                               GROUP BY 1) x
                ORDER BY n DESC LIMIT 24)));
END $$;
