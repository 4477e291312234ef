"""What a page shows, built from reads without answering the request: the sample page's blind,
own-work, mask and consensus-panel context, mask overlays (PNG), the queue's filters and rows.
Views in review/views/ call these and render; the audit's pieces have their own package,
review/audit/."""
