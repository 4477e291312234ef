"""What a line calls a required field it lacks: `{"image": "x.jpg"}` gets "image_path: missing
(the line has "image": name it image_path)" instead of a bare "missing" beside a key the
importer silently ignores. Only looked at on the error path: a good line pays nothing."""

from __future__ import annotations

import difflib

# Names other tools give these fields (Label Studio's "image", COCO's "file_name", ...).
ALIASES = {
    "image_path": (
        "image",
        "img",
        "path",
        "file",
        "file_name",
        "filename",
        "image_file",
        "image_url",
        "url",
    ),
    "id": ("image_id", "sample_id", "uid", "uuid", "key", "name", "ID", "Id"),
}


def missing(obj: dict[str, object], field: str) -> str:
    """ "missing", with the line's key that most likely meant `field` when there is one."""
    keys = [k for k in obj if isinstance(k, str) and k != field]
    near = [k for k in ALIASES.get(field, ()) if k in obj]
    near = near or difflib.get_close_matches(field, keys, n=1, cutoff=0.75)
    if not near:
        return "missing"
    return f'missing (the line has "{near[0]}": name it {field})'
