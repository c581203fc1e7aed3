"""The manager's view: `opinion serve` (dashboard) and `opinion report` (static HTML/PDF).

A face in the layering: it reads the PUBLISHED warehouse snapshot only, read-only, through
`opinion.serve.db.Snapshot`, and renders server-side HTML with inline SVG charts (no JavaScript
chart library, nothing fetched from a CDN). Numbers come from the aggregate layer (`agg_daily`,
`verbatims` (the rows of `v_verbatims`, materialised), `v_emerging_issues`; docs/warehouse.md)
queried with bound parameters only.
"""
