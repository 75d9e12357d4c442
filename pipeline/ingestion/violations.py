"""What a broken input contract is reported as: one `Violation` per broken rule, all of them
raised together as one `InputContractError` (one line each: file, column, rule, count, examples)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.plain_text import shown

EXAMPLES = 5  # example keys shown per broken rule
EXAMPLE_WIDTH = 80  # characters of one example key or value shown (control characters escaped)
DETAIL_WIDTH = 400  # characters of a reader's own explanation shown


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, which rule, how many rows and a few example keys, each shown on one
    line and cut to EXAMPLE_WIDTH (a value from the data may hold line breaks or a million characters).

    `count` is None for problems of the file or its header (missing file or column), which are
    explained by `detail` instead. `advice` (optional) says what to do about it."""

    file: str
    column: str | None
    rule: str
    count: int | None
    example_keys: tuple[str, ...] = ()
    detail: str = ""
    advice: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: column {self.column}: " if self.column else f"{self.file}: "
        advice = f"; {self.advice}" if self.advice else ""
        if self.count is None:
            return f"{where}rule '{self.rule}': {shown(self.detail, DETAIL_WIDTH)}{advice}"
        rows = "1 row breaks it" if self.count == 1 else f"{self.count} rows break it"
        keys = ", ".join(shown(key, EXAMPLE_WIDTH) for key in self.example_keys)
        examples = f" (e.g. {keys})" if self.example_keys else ""
        return f"{where}rule '{self.rule}': {rows}{examples}{advice}"


class InputContractError(ValueError):
    """The input folder breaks the contract; `violations` lists every problem found."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = list(violations)
        super().__init__("\n".join(str(v) for v in self.violations))
