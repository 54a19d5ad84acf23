"""Problems found in a call-flow file, said the way staff can act on them."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ivr.config import LineError


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a look) in a call-flow file, with where it is."""

    message: str
    line: int | None = None
    severity: str = "error"  # "error" fails a check; "warning" does not
    file: str | None = None

    def __str__(self) -> str:
        where = self.file or "call_flows.yaml"
        if self.line:
            where = f"{where}:{self.line}"
        label = "" if self.severity == "error" else "warning: "
        return f"{where}: {label}{self.message}"

    @property
    def is_error(self) -> bool:
        """Whether this problem stops the flow from going live."""
        return self.severity == "error"


class FlowError(LineError):
    """A call-flow file that cannot go live; carries every problem found (one a line, as `ivr check` says them)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
