-- 0014_review_attributes (issue 26): a review's cabin, traveller type, route and whether the
-- source marks it verified, as posts columns (they sat only inside `raw`). Filled from the
-- file mapping (`opinion.sources.files`, the AIRLINE_REVIEWS preset); NULL for posts whose
-- source has none. The dashboard filters every page by them (docs/dashboard.md).

ALTER TABLE posts ADD COLUMN IF NOT EXISTS cabin VARCHAR;
ALTER TABLE posts ADD COLUMN IF NOT EXISTS traveller_type VARCHAR;
ALTER TABLE posts ADD COLUMN IF NOT EXISTS route VARCHAR;
ALTER TABLE posts ADD COLUMN IF NOT EXISTS verified BOOLEAN;
