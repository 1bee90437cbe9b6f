"""Shared data pieces: benchmarks (registry, loaders, gold answers), training pools, prompt templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator


def iter_jsonl(path: Path, error: type[ValueError]) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; a bad line raises ``error`` naming it."""
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as problem:
                raise error(f"{path}:{number}: not valid JSON ({problem.msg} at column {problem.colno}); "
                            f"write one JSON object per line") from None
