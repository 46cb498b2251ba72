-- pg_restore runs with an empty search_path; risk_config's generated column calls
-- risk_incident_params(), whose body names the type risk_incident_params unqualified, so a
-- restore failed ("type risk_incident_params does not exist"). Pin the function's path.
ALTER FUNCTION risk_incident_params(jsonb) SET search_path = public, pg_temp;
