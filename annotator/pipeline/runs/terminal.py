"""Progress bars for the terminal: one line per stage, redrawn in place on a TTY."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

BAR_WIDTH = 30


class Progress(Protocol):
    @property
    def stage(self) -> str: ...
    @property
    def pending(self) -> int: ...
    @property
    def running(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def finished(self) -> int: ...


class Stream(Protocol):
    def write(self, text: str) -> Any: ...
    def flush(self) -> Any: ...
    def isatty(self) -> bool: ...


def render_bar(progress: Progress, *, width: int = BAR_WIDTH) -> str:
    """`annotate  [##########----------]  50%  10/20  done 9  skipped 1  failed 0  pending 10`"""
    total = progress.total
    filled = round(width * progress.finished / total) if total else width
    percent = round(100 * progress.finished / total) if total else 100
    waiting = progress.pending + progress.running
    return (
        f"{progress.stage:<9} [{'#' * filled}{'-' * (width - filled)}] {percent:>3}%  "
        f"{progress.finished}/{total}  done {progress.done}  skipped {progress.skipped}  "
        f"failed {progress.failed}  pending {waiting}"
    )


class BarWriter:
    """Draws the bars; on a TTY the previous drawing is overwritten, elsewhere (a log file) a new
    block is written only when the numbers changed."""

    def __init__(self, stream: Stream, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._lines = 0
        self._last: list[str] = []

    def draw(self, progress: Sequence[Progress]) -> None:
        lines = [render_bar(p) for p in progress]
        if lines == self._last or not lines:
            return
        # One write per drawing (Django's OutputWrapper adds a newline to text lacking one).
        if self.tty:
            back = f"\x1b[{self._lines}F" if self._lines else ""  # to the first bar's line
            text = back + "".join(f"{line}\x1b[K\n" for line in lines)
        else:
            text = "\n".join(lines) + "\n\n"
        self.stream.write(text)
        self.stream.flush()
        self._lines, self._last = len(lines), lines
