-- Implicit mentions (issue 13): a post that names no aspect is still attributed to the
-- categories the category head reads in it (opinion/nlp/categories.py). Such a mention has
-- no span (term, start, end and aspect are NULL) and implicit = true; its polarity is the
-- post's own sentiment. Every mention from before this migration is explicit.
ALTER TABLE mentions ADD COLUMN implicit BOOLEAN DEFAULT false;
UPDATE mentions SET implicit = false WHERE implicit IS NULL;
