"""Reading a YAML section field by field, keeping every problem with the line it is on.

One reader for the call flow's sections (ivr.flow) and the hours section (ivr.hours): one
way to find a path's line, to report an error or a warning there, and to read the kinds of
field both use. A path is a tuple of keys and list positions, like ("menus", "detox", "say").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.problem import Problem, did_you_mean


@dataclass(frozen=True)
class Finding:
    """A problem a check found at a path of the file; a Fields reader turns the path into a line."""

    path: tuple | None
    message: str
    severity: str = "error"


def _nothing(path) -> None:
    """No YAML 1.1 reading known for any path."""
    return None


class Fields:
    """Reads fields at paths of one file, keeping every problem it finds with its line."""

    def __init__(self, line_at, implicit=_nothing, implicit_key=_nothing, prefix: str = "",
                 examples: dict | None = None):
        # line_at(path): the line a path starts on, or None (or LookupError) when it has none.
        # implicit(path) / implicit_key(path): what YAML 1.1 would have read an unquoted value / key as.
        self.line_at, self.implicit, self.implicit_key = line_at, implicit, implicit_key
        self.prefix = prefix  # said before each message, like "hours: "
        self.examples = examples or {}  # field -> how a missing required field is written
        self.problems: list[Problem] = []

    # -- reporting -------------------------------------------------------------------------
    def line(self, path: tuple | None) -> int | None:
        """The line of a path, or of its nearest ancestor that has one (None: no path, no line)."""
        if path is None:
            return None
        for end in range(len(path), -1, -1):
            try:
                found = self.line_at(tuple(path[:end]))
            except LookupError:
                found = None
            if found is not None:
                return found
        return None

    def has(self, path: tuple) -> bool:
        """Whether the file itself has this path (not just an ancestor of it)."""
        return self.line_at(path) is not None

    def error(self, path: tuple | None, message: str) -> None:
        """Record an error at the line of a path (None: a problem no line of the file holds)."""
        self.problems.append(Problem(self.prefix + message, self.line(path), "error"))

    def warn(self, path: tuple | None, message: str) -> None:
        """Record a warning at the line of a path (None: no line of the file holds it)."""
        self.problems.append(Problem(self.prefix + message, self.line(path), "warning"))

    def report(self, findings) -> None:
        """Record what a check found, each at the line of its path."""
        for found in findings:
            self.problems.append(Problem(self.prefix + found.message, self.line(found.path), found.severity))

    # -- typed fields --------------------------------------------------------------------------
    def mapping(self, path: tuple, value, fields: dict, what: str) -> dict:
        """Check a mapping's keys against the known fields (name -> required); return it or {}."""
        if not isinstance(value, dict):
            self.error(path, f"{what} should be a set of 'name: value' lines, not {kind_of(value)}.")
            return {}
        for key in value:
            if key not in fields:
                self.error(path + (key,), f"{what} has an unknown field '{key}'"
                           f"{did_you_mean(key, fields)}; the fields are {', '.join(fields)}.")
        for key, required in fields.items():
            if required and key not in value:
                example = f"; add a line like  {self.examples[key]}" if key in self.examples else ""
                self.error(path, f"{what} is missing '{key}'{example}.")
        return value

    def text(self, path: tuple, value, what: str) -> str | None:
        """Read a text field, warning where YAML 1.1 would have read it as something else."""
        if not isinstance(value, str):
            self.error(path, f"{what} should be text, not {kind_of(value)}.")
            return None
        kind = self.implicit(path)
        if kind in ("bool", "int", "float", "sexagesimal", "null"):
            yaml11 = {"bool": "true/false", "null": "empty", "sexagesimal": "a number"}.get(kind, "a number")
            self.warn(path, f"{what} '{value}' is unquoted, and YAML 1.1 reads it as {yaml11}; "
                      f"it is read here as the text '{value}'. Put it in quotes (\"{value}\") to be sure.")
        return value

    def number(self, path: tuple, value, what: str, low: int, high: int, default: int) -> int:
        """Read a whole number in a range, or report it and use the default."""
        if value is None:
            return default
        if not isinstance(value, str) or not re.fullmatch(r"\d+", value.strip()):
            self.error(path, f"{what} should be a whole number from {low} to {high}, not {kind_of(value)}.")
            return default
        number = int(value)
        if not low <= number <= high:
            self.error(path, f"{what} is {number}; it must be from {low} to {high}.")
            return default
        return number

    def flag(self, path: tuple, value, what: str, default: bool) -> bool:
        """Read a yes/no field."""
        if value is None:
            return default
        word = str(value).strip().lower()
        if word in ("yes", "true", "on"):
            return True
        if word in ("no", "false", "off"):
            return False
        self.error(path, f"{what} should be yes or no, not '{value}'.")
        return default

    def words(self, path: tuple, value, what: str) -> tuple:
        """Read a list of words (or one word), lowercased."""
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            self.error(path, f"{what} should be a list of words, like [counselor, help].")
            return ()
        return tuple(w.strip().lower() for w in value if w.strip())


def kind_of(value) -> str:
    """Name the kind of a value the way staff would."""
    if isinstance(value, dict):
        return "a set of fields"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"'{value}'"
