"""Which mentions count in the insights: the one eligibility rule that `agg_daily`,
`verbatims` and the emerging-issue alerts share.

A mention is eligible when its post is not a duplicate (`dup_of IS NULL`), not spam
(`spam_score < SPAM_THRESHOLD`, a missing score counting as 0), has a brand and a time.
"""

from __future__ import annotations

SPAM_THRESHOLD = 0.5

#: `FROM ... WHERE ...` of the eligible mentions `m` joined to their posts `p`.
ELIGIBLE = f"""
    FROM mentions m JOIN posts p USING (post_id)
    WHERE p.dup_of IS NULL AND coalesce(p.spam_score, 0) < {SPAM_THRESHOLD}
      AND p.brand IS NOT NULL AND p.created_at IS NOT NULL
"""
