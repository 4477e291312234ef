"""Progress bars for the terminal: one line per stage, redrawn in place on a TTY."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from annotator.pipeline.costs import RunSpend, money

if TYPE_CHECKING:
    from annotator.selectors.run_costs import RunEstimate

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


def render_spend(spend: RunSpend) -> list[str]:
    """`spend $1.23 (42 calls, 50,400 in / 16,800 out tokens); rest about $3.10; budget $10.00`
    and, once the budget is spent, a line that says new calls stopped."""
    calls = sum(m.calls for m in spend.models)
    if not spend.models:
        return []
    tokens_in, tokens_out = spend.tokens
    cost = money(spend.cost) if spend.priced else money(spend.cost) + " (some models unpriced)"
    line = (
        f"spend {cost} ({calls} calls, {tokens_in:,} in / {tokens_out:,} out tokens); "
        f"rest about {money(spend.estimate_rest)}"
    )
    if spend.budget is not None:
        line += f"; budget {money(spend.budget)}"
    lines = [line]
    if spend.budget_reached:
        lines.append("budget reached: no new model calls are sent (raise `budget` and run again)")
    return lines


class BarWriter:
    """Draws the bars; on a TTY the previous drawing is overwritten, elsewhere (a log file) a new
    block is written only when the numbers changed."""

    def __init__(self, stream: Stream, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._lines = 0
        self._last: list[str] = []

    def draw(self, progress: Sequence[Progress], extra: Sequence[str] = ()) -> None:
        """`extra`: lines under the bars (the spend)."""
        lines = [render_bar(p) for p in progress] + list(extra)
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


def render_estimate(estimate: RunEstimate, *, dataset: str) -> list[str]:
    """The --estimate table: one row per model, then the total."""
    lines = [
        f"Estimate for {dataset}: {estimate.samples} samples; nothing was sent. Critic calls "
        f"assume a disputed share of {estimate.disputed_share:g}; revise rounds come on top.",
        f"{'stage':<9} {'model':<24} {'calls':>9} {'input tokens':>14} {'output tokens':>14} "
        f"{'cost':>12}  reply size",
    ]
    for row in estimate.rows:
        lines.append(
            f"{row.stage:<9} {row.model_name:<24} {_calls(row.calls):>9} {row.input_tokens:>14,} "
            f"{row.output_tokens:>14,} {money(row.cost):>12}  {row.reply_tokens_from}"
        )
    calls = sum(row.calls for row in estimate.rows)
    tokens_in = sum(row.input_tokens for row in estimate.rows)
    tokens_out = sum(row.output_tokens for row in estimate.rows)
    lines.append(
        f"{'total':<9} {'':<24} {_calls(calls):>9} {tokens_in:>14,} {tokens_out:>14,} "
        f"{money(estimate.cost):>12}"
    )
    if estimate.cost is None:
        lines.append("Some models have no prices (input_price_per_mtok, output_price_per_mtok).")
    return lines


def _calls(value: float) -> str:
    """Whole calls as they are; an expectation (critic units x share) with one decimal."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
