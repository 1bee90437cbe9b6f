"""The report's "What the model writes": a train run's sampled completions (``completions.jsonl``) at its first
and last recorded step — their length, boxed answers, code-style reasoning and self-reflection words.

Code-style reasoning is the pattern the "Spurious Rewards" follow-up (Shao et al. 2025) saw spurious rewards
amplify in Qwen2.5-Math: a completion counts when it writes Python (a ```python fence, ``def``, ``print(``,
``import``). Lengths are in whitespace-separated words (the file holds text, not tokens).
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from .grading import has_boxed
from .jsonl import read_jsonl
from .metrics import REFLECTION_WORDS

CODE_STYLE = re.compile(r"```python|^\s*def \w+\(|\bprint\(|^\s*(?:import|from) \w+", re.MULTILINE)


def read_completions(run_dir: Path) -> dict[int, list[str]]:
    """step → the completions sampled at that step ({} without the file)."""
    path = Path(run_dir) / "completions.jsonl"
    steps: dict[int, list[str]] = {}
    if path.is_file():
        for _, line in read_jsonl(path, blank_lines="skip", cut_last_line="read", error=ValueError):
            if isinstance(line, dict) and isinstance(line.get("completion"), str):
                steps.setdefault(int(line.get("step", 0)), []).append(line["completion"])
    return steps


def describe(texts: list[str]) -> dict:
    lengths = [len(text.split()) for text in texts]
    lowered = [text.lower() for text in texts]
    return {"n": len(texts), "median_words": statistics.median(lengths), "max_words": max(lengths),
            "boxed": sum(map(has_boxed, texts)) / len(texts),
            "code_style": sum(bool(CODE_STYLE.search(text)) for text in texts) / len(texts),
            "reflection": sum(any(word in text for word in REFLECTION_WORDS) for text in lowered) / len(texts)}


def completions_section(run_dir: Path) -> list[str]:
    """Markdown lines (none when the run sampled no completions)."""
    steps = read_completions(run_dir)
    if not steps:
        return []
    shown = sorted({min(steps), max(steps)})
    rows = [(step, describe(steps[step])) for step in shown]
    lines = ["", "## What the model writes (sampled completions)", "",
             "| step | n | median words | max words | boxed | code-style | reflection words |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {step} | {d['n']} | {d['median_words']:g} | {d['max_words']} | {d['boxed']:.0%} | "
              f"{d['code_style']:.0%} | {d['reflection']:.0%} |" for step, d in rows]
    last = " ".join(steps[max(steps)][0].split()).replace("`", "'")
    return lines + ["", f"A completion at step {max(steps)}: `{last[:200]}`" + ("…" if len(last) > 200 else ""), ""]
