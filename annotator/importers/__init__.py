"""Importing sample files (annotator.services.importing runs it), in two kinds of module.

Pure, no database (they read only the import file, its images and masks, so they run in the
worker processes too): jsonl, records, fields, masks, images, storable, issues, lines,
parallel, checking, rows (a new sample's rows as plain tuples: prepare_line).

Database writers, called inside the import's transaction: inserts (new samples' rows by
executemany or COPY), writer (a batch; existing samples by upsert), verify (the upserted
samples' statuses), decisions (reads people's decisions; record_conflicts writes their audit
events), summary (record_import's audit event), statistics (ANALYZE after the import).
"""
