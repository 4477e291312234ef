"""Views only: each module's public names take a request and return a response (and parse,
check permissions, call a service or selector, render). What builds a page's pieces without
answering a request lives beside, not here: the audit's tables, charts and sections in
review/audit/, other pages' context builders in review/pages/, reads in review/selectors/.
Only the URL confs import these modules (tests/test_import_boundaries.py)."""
