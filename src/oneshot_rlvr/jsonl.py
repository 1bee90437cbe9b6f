"""JSON Lines, read one way: ``read_jsonl`` yields (line number, value), each caller stating its policy.

A line ends at "\\n" only, and "\\r" before it is dropped: ``str.splitlines`` would also split a string at
U+2028 or U+0085, which a JSON line may hold raw. The caller says what a blank line is (``blank_lines``),
what a last line without its newline is (``cut_last_line``: the line a running writer has not finished, or
a line like any other), and what a bad line raises (``error``) or whether it is yielded (``bad_lines``). A
bad line is a ``JsonlError`` (a ValueError) with its number, kind and reason, so that a caller can word its
own message; its own message is ``NAME:LINE: not valid JSON (...); write one JSON object per line``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator

BLANK_LINES = ("skip", "error")  # error: a JsonlError of kind "blank"
CUT_LAST_LINE = ("read", "drop", "drop_if_bad")  # read it as any line; drop it unread; drop it when it is not JSON
BAD_LINES = ("raise", "yield")  # yield: (number, JsonlError) in its place, and reading goes on


class JsonlError(ValueError):
    """A line that is not a JSON value. ``number``: its line (from 1). ``kind``: "blank", "utf8", "json" (a
    syntax error), "value" (a number past Python's digit limit, or a value ``loads`` refuses) or "depth"
    (nested too deeply). ``reason``: short, e.g. "Expecting value" (what JSON says of a blank line too).
    ``problem``: the exception behind it (None for a blank line)."""

    def __init__(self, name: str, number: int, kind: str, problem: Exception | None = None) -> None:
        self.name, self.number, self.kind, self.problem = name, number, kind, problem
        self.reason = {"blank": "Expecting value", "utf8": getattr(problem, "reason", ""),
                       "json": getattr(problem, "msg", ""), "depth": "nested too deeply"}.get(
                           kind, str(problem).split(";")[0])
        super().__init__(self._message())

    def _message(self) -> str:
        where, fix = f"{self.name}:{self.number}", "write one JSON object per line"
        if self.kind == "utf8":
            start = self.problem.start
            return f"{where}: not UTF-8 text (byte {self.problem.object[start]:#04x} at position {start + 1}); " \
                   f"save the file as UTF-8"
        if self.kind == "json":
            return f"{where}: not valid JSON ({self.reason} at column {self.problem.colno}); {fix}"
        if self.kind == "blank":
            return f"{where}: blank line; {fix}"
        return f"{where}: not readable JSON ({self.reason}); {fix}"


def read_jsonl(source: os.PathLike | bytes | str, *, blank_lines: str, cut_last_line: str,
               error: Callable[[JsonlError], Exception] | None = None, bad_lines: str = "raise",
               loads: Callable[[str], object] = json.loads, name: str | None = None) -> Iterator[tuple[int, object]]:
    """(line number, value) of each line of ``source``: a path (read as bytes), bytes, or text already decoded.
    A bad line raises ``error(the JsonlError)`` (the JsonlError itself by default; an exception class such as
    ``PoolError`` keeps its message). ``name`` names the source in that message (the path by default)."""
    for setting, value, allowed in (("blank_lines", blank_lines, BLANK_LINES), ("bad_lines", bad_lines, BAD_LINES),
                                    ("cut_last_line", cut_last_line, CUT_LAST_LINE)):
        if value not in allowed:
            raise ValueError(f"{setting} must be one of {allowed}, got {value!r}")
    is_path = isinstance(source, os.PathLike)
    name = name if name is not None else str(source) if is_path else "<jsonl>"
    with (open(source, "rb") if is_path else io.StringIO(source, newline="\n") if isinstance(source, str)
          else io.BytesIO(source)) as stream:
        for number, raw in enumerate(stream, start=1):
            cut = not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n")
            if cut and cut_last_line == "drop":  # the line a running writer has not finished: not read yet
                return
            value = _parse(raw, loads, name, number, blank_lines)
            if isinstance(value, JsonlError):
                if cut and cut_last_line == "drop_if_bad":
                    return
                if bad_lines == "raise":
                    raise (value if error is None else error(value)) from None
            elif value is _BLANK:
                continue
            yield number, value


_BLANK = object()


def _parse(raw: bytes | str, loads, name: str, number: int, blank_lines: str):
    """The value on line ``raw`` (its newline included), ``_BLANK``, or the JsonlError that says why not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as problem:
            return JsonlError(name, number, "utf8", problem)
    line = raw.rstrip("\n").rstrip("\r")
    if not line.strip():
        return _BLANK if blank_lines == "skip" else JsonlError(name, number, "blank")
    try:
        return loads(line)
    except json.JSONDecodeError as problem:
        return JsonlError(name, number, "json", problem)
    except ValueError as problem:  # a number past Python's digit limit; a value ``loads`` refuses (NaN)
        return JsonlError(name, number, "value", problem)
    except RecursionError as problem:
        return JsonlError(name, number, "depth", problem)
