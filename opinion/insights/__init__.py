"""Experience intelligence over the published warehouse: emerging-issue alerts and helpers.

The metrics themselves are SQL views (`opinion/warehouse/schema/0002_insights.sql`) rebuilt by
`opinion.warehouse.aggregates.rebuild`; this package reads them for people and schedulers.
"""
