"""Markdown pieces every report shares (``report.py``, ``demo_report.py``): tables, rate cells, the findings and
plots sections."""

from __future__ import annotations

from collections.abc import Sequence

from .findings import Finding
from .metrics import Proportion
from .runlogs import Evaluation

NOTE = ("Accuracies are pooled over benchmarks as correct/n of graded responses, shown as rate (correct/n) "
        "[95% Wilson interval]; p-values are two-proportion z-tests; α = 0.05.")


def cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows), ""]


def rate_cell(p: Proportion | None) -> str:
    return "–" if p is None else p.cell()


def short_rate(p: Proportion | None) -> str:
    return "–" if p is None else f"{p.rate:.1%}"


def share_of(evaluation: Evaluation, key: str, name: str | None, pooled_over: Sequence[str]) -> Proportion | None:
    """Benchmark ``name``'s share of ``key`` (None: pooled over ``pooled_over``); None where not logged."""
    if name is None:
        return evaluation.pooled(key, pooled_over)
    return evaluation.scores[name].proportion(key) if name in evaluation.scores else None


def findings_section(found: Sequence[Finding], note: str = NOTE) -> list[str]:
    return ["## Findings", "", note, "", *(f.markdown() for f in found), ""]


def plots_section(charts: Sequence[tuple[str, str]], absent: str = "") -> list[str]:
    lines = ["## Plots", ""]
    for name, caption in charts:
        lines += [f"![{name[:-4].replace('_', ' ')}](plots/{name})", "", f"*{caption}*", ""]
    return lines + ([absent, ""] if absent else [])
