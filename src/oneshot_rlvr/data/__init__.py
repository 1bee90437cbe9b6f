"""Shared data pieces: benchmarks (registry, loaders, gold answers), training pools, prompt templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator


def iter_jsonl(path: Path, error: type[ValueError]) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; a bad line raises ``error`` naming it."""
    with Path(path).open("rb") as handle:  # bytes, so that a line that is not UTF-8 can be named
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as problem:
                bad = f"byte {raw[problem.start]:#04x} at position {problem.start + 1}"
                raise error(f"{path}:{number}: not UTF-8 text ({bad}); save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as problem:
                raise error(f"{path}:{number}: not valid JSON ({problem.msg} at column {problem.colno}); "
                            f"write one JSON object per line") from None
            except (ValueError, RecursionError) as problem:  # a number past Python's digit limit; deep nesting
                why = "nested too deeply" if isinstance(problem, RecursionError) else str(problem).split(";")[0]
                raise error(f"{path}:{number}: not readable JSON ({why}); write one JSON object per line") from None
            yield number, value
