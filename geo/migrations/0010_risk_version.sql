-- Grid risk tiers change without any incident changing (a configuration load, the daily
-- decay recompute): give grid_risk its own data version so the big screen redraws then too.
INSERT INTO data_version (name) VALUES ('grid_risk') ON CONFLICT DO NOTHING;
CREATE TRIGGER grid_risk_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid_risk
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
