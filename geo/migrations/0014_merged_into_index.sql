-- Deleting or merging incidents looks up the duplicates pointing at them: without this
-- index every deleted row scanned the whole incident table (minutes for 20k rows at city
-- scale, measured by `python -m geo bench`).
CREATE INDEX IF NOT EXISTS incident_merged_into_idx ON incident (merged_into) WHERE merged_into IS NOT NULL;
