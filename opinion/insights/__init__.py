"""Experience intelligence over the published warehouse: emerging-issue alerts and the shared
definitions of the manager's numbers.

* `stats` — the minimum-sample rule, net sentiment (per mention), Wilson interval and the
  period-change test: one place, used by every page, chart and report;
* `eligible` — which mentions count (not a duplicate, not spam, with a brand and a time);
* `issues` — the emerging-issue computation (comparable-coverage baselines, rate test,
  persistence, bounded horizon, `IssueParams`, `severity`), run by
  `opinion.warehouse.aggregates.rebuild`;
* `alerts` — `opinion alerts`: reads `v_emerging_issues` for people and schedulers.
"""
