"""Can the database store this? Text and JSON values an import would otherwise crash on.

PostgreSQL refuses NUL in text and in jsonb (SQLite keeps it, so both refuse it here, for one
behaviour everywhere), and no database driver can encode a lone surrogate ("\\ud800" in JSON
reads as one). Found problems become `file:line: field: message`, never a DataError.
"""

from __future__ import annotations

from collections.abc import Iterator

from annotator.importers.issues import show

MAX_JSON_DEPTH = 64  # nesting of one record's values; real records use 3


def text_problem(text: str) -> str | None:
    """Why the database cannot store `text`, or None."""
    nul = text.find("\x00")
    if nul >= 0:
        return f"contains a NUL character (at character {nul + 1})"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return f"contains a lone surrogate U+{code:04X} (at character {exc.start + 1})"
    return None


def printable(text: str) -> str:
    """`text` with what cannot be stored replaced, e.g. an uploaded file's name in a message."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def json_problems(value: object, *, field: str = "") -> Iterator[tuple[str, str]]:
    """(field path, problem) for each string, key included, that cannot be stored, and for
    nesting deeper than MAX_JSON_DEPTH. Iterative: a value json.loads accepted may be nested
    deeper than Python's recursion limit allows a recursive walk."""
    stack: list[tuple[str, object, int]] = [(field, value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield path or "line", problem
        elif isinstance(item, dict | list) and depth >= MAX_JSON_DEPTH:
            yield path or "line", f"is nested deeper than {MAX_JSON_DEPTH} levels"
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key)
                if problem:
                    yield path or "line", f"key {show(key)} {problem}"
                name = show(key) if problem else key  # never a NUL in a message
                stack.append((f"{path}.{name}" if path else name, child, depth + 1))
        elif isinstance(item, list):
            for index in reversed(range(len(item))):
                stack.append((f"{path}[{index}]", item[index], depth + 1))
