-- 0011_primary_touchpoint (issue 23): each post's root cause, the one touchpoint
-- and category it is mainly about (for a complaint, its cause: a late flight that led to a
-- phone call is punctuality), read by the pack's root-cause head at extraction
-- (opinion/nlp/rootcause.py) and carried by the lake's posts partitions. primary_confidence
-- is the head's probability of that touchpoint; NULL where the pack has no fitted head (the
-- mention-based dominant touchpoint is used then). Every post the engine read gets one (a
-- complaint read as neutral still has a cause); the dashboard's "complaint drivers" counts
-- the negative ones. Rows loaded before this migration have NULL in all three until their
-- partitions are re-extracted (a new pack head version re-extracts them).
ALTER TABLE posts ADD COLUMN primary_touchpoint VARCHAR;
ALTER TABLE posts ADD COLUMN primary_category VARCHAR;
ALTER TABLE posts ADD COLUMN primary_confidence FLOAT;
