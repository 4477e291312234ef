"""Errors the model adapters raise; pure, so the task layer can catch them without openai/torch."""

from __future__ import annotations


class PipelineConfigError(ValueError):
    """The pipeline TOML (or an environment variable it names) is wrong; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ModelError(Exception):
    """A model call failed. `raw` holds the last reply text when there was one; the tokens,
    what the replies that came used (they are paid for even when they fail)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, raw: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.raw = raw
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None


class TransientModelError(ModelError):
    """429, 5xx, timeout or connection error: worth retrying, after `retry_after` s if given."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        raw: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, raw=raw)
        self.retry_after = retry_after


class PermanentModelError(ModelError):
    """A 4xx other than 429, or a reply still invalid after one repair: record it, don't retry."""
