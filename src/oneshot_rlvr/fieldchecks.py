"""Reading a run's files and checking the fields the report computes with (``runlogs.py``, ``demo_manifest.py``).

Numbers must be finite and in range (rates 0..1; steps, n and k whole, at most 2^63 − 1); text must be valid
Unicode (no lone surrogates). A file or field that is not raises ``CommandError``: one line naming the file,
the field and what it must be.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .cliutil import CommandError

MAX_WHOLE = 2**63 - 1  # steps, n and k: whole numbers that fit in 64 bits


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot read it as UTF-8 text ({error}); check the file") from None


def read_json(path: Path):
    try:
        value = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); the file is damaged") from None
    check_text(value, str(path))
    return value


def check_text(value, where: str) -> None:
    """Refuse a string (key or value) that is not valid Unicode: a lone surrogate, as JSON's \\ud800 gives."""
    stack = [(value, "")]
    while stack:
        item, field = stack.pop()
        if isinstance(item, str) and not is_unicode(item):
            raise CommandError(f"{where}{f' field {field}' if field else ''}: text is not valid Unicode "
                               f"(a lone surrogate); the file is damaged")
        if isinstance(item, (dict, list)):
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                name = str(key) if not isinstance(key, str) or is_unicode(key) else ascii(key)
                stack += [(key, f"{field} (a key)" if field else "(a key)"),
                          (child, f"{field}.{name}" if field else name)]


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def finite(value) -> bool:
    """A JSON number that is a finite float: not a bool, NaN, ±Infinity or an integer too large for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_rate(value) -> bool:
    return finite(value) and 0 <= value <= 1


def is_whole(value, low: int) -> bool:
    """A whole number (4 or 4.0) from ``low`` to ``MAX_WHOLE``."""
    if isinstance(value, float):
        return finite(value) and value.is_integer() and low <= value <= MAX_WHOLE
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_WHOLE


def expect(ok: bool, where: str, what: str) -> None:
    """A field a run's file may hold: absent, or of the shape the report prints."""
    if not ok:
        raise CommandError(f"{where}: must be {what}; the file is damaged")
