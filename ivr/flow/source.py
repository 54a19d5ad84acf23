"""Read a YAML file into plain data that remembers each value's line and raw text.

PyYAML reads YAML 1.1: `17:30` becomes 1050, `no` becomes False, `1:` an integer key,
and a repeated key silently replaces the first. Staff write all of these, so we never
let PyYAML decide types: every scalar stays the text the person typed, and the schema
(ivr.flow) decides what it means. What YAML 1.1 would have made of it is kept so the
checker can warn.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ivr.problem import Problem

# What a YAML 1.1 parser would turn an unquoted scalar into, by resolver tag.
_IMPLICIT = {
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "date",
}


@dataclass
class Source:
    """Plain data from one YAML file, with the line and YAML 1.1 reading of each path."""

    data: object = None
    lines: dict = field(default_factory=dict)
    implicit: dict = field(default_factory=dict)
    implicit_keys: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    # A path's line, or its nearest ancestor's: ivr.fields.Fields.line over lines.get.


def read_source(text: str) -> Source:
    """Turn YAML text into a Source, collecting syntax problems instead of raising."""
    src = Source()
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip(" ")
        if stripped.startswith("\t"):
            src.problems.append(Problem(
                "a tab is used for indentation; YAML needs spaces. Replace the tab with spaces.",
                number))
    try:
        node = _compose(text)
    except yaml.YAMLError as exc:
        src.problems.append(_syntax_problem(exc))
        return src
    if node is None:
        src.problems.append(Problem("the file is empty.", 1))
        return src
    src.data = _convert(node, (), src)
    return src


def _compose(text: str):
    """Compose YAML text into nodes: with libyaml when present (five times faster on big flows).

    A file libyaml refuses is read again by the pure-Python parser, so staff always see the
    same wording of a syntax problem whichever parser this machine has.
    """
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


# Where PyYAML notices an unclosed bracket or quote is far from the mistake; these point back to it.
_OPENED = {"while parsing a flow sequence": "a list opened with [",
           "while parsing a flow mapping": "a set of fields opened with {",
           "while scanning a quoted scalar": "a quote opened"}


def _syntax_problem(exc: yaml.YAMLError) -> Problem:
    """Say where a YAML syntax error is: at the unclosed bracket or quote when there is one."""
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark else None
    opened = _OPENED.get(getattr(exc, "context", None) or "")
    if opened and context and line and context.line + 1 < line:
        start = context.line + 1
        return Problem(f"the file is not valid YAML: {opened} here is not closed before line {line}. "
                       f"Check the brackets and quotes from this line to line {line}.", start)
    what = getattr(exc, "problem", None) or str(exc)
    return Problem(f"the file is not valid YAML ({what}). Check indentation and quotes on this line "
                   "and the one above.", line)


def _convert(node, path: tuple, src: Source):
    """Turn one composed node into str, list or dict, recording lines as it goes."""
    src.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if not node.style:  # plain, unquoted (None, or "" from libyaml): YAML 1.1 may give it another type
            tag = yaml.SafeLoader.resolve(yaml.SafeLoader, yaml.ScalarNode, node.value, (True, False))
            kind = _IMPLICIT.get(tag)
            if kind == "int" and ":" in node.value:
                kind = "sexagesimal"
            if kind:
                src.implicit[path] = kind
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, path + (i,), src) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                src.problems.append(Problem("a key must be a plain word or quoted text.",
                                            key_node.start_mark.line + 1))
                continue
            key = key_node.value
            if key == "<<":
                src.problems.append(Problem("YAML merge keys (<<) are not supported; write the "
                                            "fields out.", key_node.start_mark.line + 1))
                continue
            if key in out:
                src.problems.append(Problem(
                    f"'{key}' is given twice here (first on line {src.lines[path + (key,)]}); "
                    "YAML would silently keep only the last one. Remove or rename one of them.",
                    key_node.start_mark.line + 1))
                continue
            src.lines[path + (key,)] = key_node.start_mark.line + 1
            if not key_node.style:
                kind = _IMPLICIT.get(yaml.SafeLoader.resolve(
                    yaml.SafeLoader, yaml.ScalarNode, key, (True, False)))
                if kind:
                    src.implicit_keys[path + (key,)] = kind
            out[key] = _convert(value_node, path + (key,), src)
            src.lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    return None
