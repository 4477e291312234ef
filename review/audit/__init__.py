"""The audit dashboard's presentation, built from the selectors' figures without a request:
tables (one cell per number: raw value, text, drill-down link), SVG charts, the sections a page
or the API shows (sections.py). The views in review/views/audit*.py and /api/audit/ render
them; the numbers themselves come from review/selectors/audit*.py."""
