-- Open311's public reads (issue #18, finding 1): which categories an agency publishes, and
-- what an API key may read beyond that.
--
-- Why a flag per category and not a list in code: which categories are published is a
-- policy of the centre (PIPL: key persons, special populations and public-security leads
-- are sensitive personal information), it travels with the category table
-- (data/categories.csv has the same column), and an administrator changes it with one
-- UPDATE. New categories start unpublished: forgetting to decide keeps them private.
ALTER TABLE category ADD COLUMN public boolean NOT NULL DEFAULT false;

-- City services the public may follow (city appearance, advertising, construction, street
-- order, environment, public facilities, place-bound safety and emergencies). Off: disputes
-- (01), public-security leads (02), special populations and key persons (09), welfare (10),
-- and within the others every case that names a person or is a police lead.
UPDATE category SET public = true
 WHERE major_code IN ('03', '04', '05', '06', '07', '08', '11', '12')
   AND minor_code NOT IN ('0305', '0306', '0307', '0310', '0710', '0801', '0810', '0811', '0812', '0814');

-- What a key holder may read beyond the anonymous view: 'read:restricted' (unpublished
-- categories), 'read:precise' (the exact position, address, description and photo).
-- Reporters' names, phones and e-mails are never returned, whatever the scope.
ALTER TABLE api_key ADD COLUMN scopes text[] NOT NULL DEFAULT '{}'
    CHECK (scopes <@ ARRAY['read:restricted', 'read:precise']::text[]);
