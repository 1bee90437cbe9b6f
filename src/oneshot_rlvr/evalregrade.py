"""``oneshot-rlvr eval --regrade RUN``: grade a saved run again without generating, or compare the graders on it.

    oneshot-rlvr eval --regrade RUN [--grader NAME]    # rewrites RUN/samples.jsonl and RUN/summary.json
    oneshot-rlvr eval --regrade RUN --compare-graders  # writes RUN/grader_parity.md and RUN/grader_parity.json

``--regrade`` keeps the grader the run records (summary.json ``"grader"``; runs from before it was recorded:
oneshot-rlvr) unless ``--grader`` names another, and records the one it used. ``--compare-graders`` leaves the
run's files as they are: it grades every sample with every grader and reports, per benchmark, avg@k and
strict under each, then every sample whose (lenient) verdict differs, with both extractions — in markdown
(also printed) and JSON (the exact texts). Bad input is one line and exit 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .cliutil import CommandError, write_atomically
from .evalfiles import read_samples, read_summary
from .grading.graders import DEFAULT_GRADER, GRADERS

PARITY_MARKDOWN, PARITY_JSON = "grader_parity.md", "grader_parity.json"
REGRADE_FLAGS = ("regrade", "workers", "grader", "compare_graders")  # the flags that mean something here
_CELL_CHARS = 80  # extractions longer than this are cut in the markdown (the JSON keeps them whole)


def recorded_grader(summary: dict, where: str) -> str:
    """The grader a run was graded with (oneshot-rlvr for runs from before it was recorded)."""
    recorded = summary.get("grader", summary.get("config", {}).get("grader"))
    if recorded is None:
        return DEFAULT_GRADER
    if not isinstance(recorded, str) or recorded not in GRADERS:
        raise CommandError(f'{where}: "grader" is {json.dumps(recorded)[:60]}, which this version does not know; '
                           f"give --grader {' or --grader '.join(GRADERS)}")
    return recorded


def regrade(run_dir: str | Path, workers: int = 2, grader: str | None = None) -> dict:
    """Re-grade the saved samples of ``run_dir`` (with ``grader``, else the one it records); rewrite both files."""
    from .evaluate import build_summary, grade_samples, write_run

    samples, old = read_samples(run_dir), read_summary(run_dir)  # both checked before any grading
    grader = grader or recorded_grader(old, str(Path(run_dir) / "summary.json"))
    samples = grade_samples(samples, workers, grader)
    keep = {k: old[k] for k in ("generation_seconds", "generated_tokens", "tokens_per_second") if k in old}
    config = {**old.get("config", {}), "grader": grader}
    summary = build_summary(samples, config, {**keep, "grader": grader, "regraded": True})
    write_run(run_dir, samples, summary)
    return summary


# --- the parity report ------------------------------------------------------------------------------

def parity(samples: list[dict], workers: int = 2) -> dict:
    """Every grader's figures on ``samples`` and the samples whose lenient verdicts differ."""
    from .evaluate import build_summary, grade_samples

    graded = {name: grade_samples(samples, workers, name) for name in GRADERS}
    summaries = {name: build_summary(rows, {})["benchmarks"] for name, rows in graded.items()}
    differences = []
    for index, sample in enumerate(samples):
        verdicts = {name: graded[name][index] for name in GRADERS}
        if len({v["correct"] for v in verdicts.values()}) > 1:
            differences.append({key: sample[key] for key in ("benchmark", "id", "sample", "gold")} | {
                name: {key: v[key] for key in ("correct", "extracted", "reason")} for name, v in verdicts.items()})
    benchmarks = {}
    for benchmark in dict.fromkeys(sample["benchmark"] for sample in samples):
        first = summaries[DEFAULT_GRADER][benchmark]
        benchmarks[benchmark] = {
            "problems": first["n"], "k": first["k"],
            "samples": sum(1 for sample in samples if sample["benchmark"] == benchmark),
            "avg@k": {name: summaries[name][benchmark]["avg@k"] for name in GRADERS},
            "strict": {name: summaries[name][benchmark]["strict"] for name in GRADERS},
            "differ": sum(1 for row in differences if row["benchmark"] == benchmark)}
    return {"graders": list(GRADERS), "benchmarks": benchmarks, "differences": differences}


def _cell(text) -> str:
    """``text`` as a markdown table cell: a code span on one line, pipes escaped, long text cut."""
    if text is None:
        return "(none)"
    text = " ".join(str(text).split())
    if len(text) > _CELL_CHARS:
        text = text[:_CELL_CHARS] + f"… ({len(text)} chars)"
    fence, pad = ("``", " ") if "`" in text else ("`", "")
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def parity_markdown(report: dict, run_dir: str) -> str:
    names = report["graders"]
    lines = [f"# Grader parity: {run_dir}", "",
             "| benchmark | samples | " + " | ".join(f"avg@k {n}" for n in names) + " | "
             + " | ".join(f"strict {n}" for n in names) + " | verdicts differ |",
             "|---|---|" + "---|" * (2 * len(names)) + "---|"]
    for benchmark, row in report["benchmarks"].items():
        figures = [f"{row['avg@k'][n]:.1%}" for n in names] + [f"{row['strict'][n]:.1%}" for n in names]
        lines.append(f"| {benchmark} | {row['samples']} | " + " | ".join(figures) + f" | {row['differ']} |")
    for benchmark, row in report["benchmarks"].items():
        rows = [d for d in report["differences"] if d["benchmark"] == benchmark]
        if not rows:
            continue
        lines += ["", f"## {benchmark}: {len(rows)} sample{'s' if len(rows) != 1 else ''} graded differently", "",
                  "| id | sample | gold | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
        for d in rows:
            verdicts = [f"{'right' if d[n]['correct'] else 'wrong'} ({d[n]['reason']}): {_cell(d[n]['extracted'])}"
                        for n in names]
            lines.append(f"| {_cell(d['id'])} | {d['sample']} | {_cell(d['gold'])} | " + " | ".join(verdicts) + " |")
    if not report["differences"]:
        lines += ["", "The graders agree on every sample."]
    return "\n".join(lines) + "\n"


def _check_parity_paths(run_dir: Path) -> None:
    """Fail before grading when the report cannot be written into ``run_dir``."""
    for name in (PARITY_MARKDOWN, PARITY_JSON):
        path = run_dir / name
        if path.exists() and not path.is_file():
            raise CommandError(f"{path}: exists and is not a regular file, and the report would replace it; "
                               f"remove it (--compare-graders writes {PARITY_MARKDOWN} and {PARITY_JSON} there)")
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise CommandError(f"{run_dir}: cannot write there (permission denied); --compare-graders writes its "
                           f"report into the run folder")


def compare_graders(run_dir: str | Path, workers: int = 2) -> tuple[dict, str]:
    """Write RUN/grader_parity.json and .md; returns (report, markdown). The run's own files are not touched."""
    run_dir = Path(run_dir)
    samples = read_samples(run_dir)  # checked (and the folder with it) before any grading
    _check_parity_paths(run_dir)
    report = parity(samples, workers)
    markdown = parity_markdown(report, str(run_dir))
    write_atomically(str(run_dir / PARITY_JSON), [json.dumps(report, indent=2, ensure_ascii=False) + "\n"])
    write_atomically(str(run_dir / PARITY_MARKDOWN), [markdown])
    return report, markdown


# --- command line -----------------------------------------------------------------------------------

def check_regrade_flags(args: argparse.Namespace) -> None:
    """--regrade re-grades DIR's saved samples in place: a flag that picks, generates or places samples is bad input."""
    from .evaluate import refuse_flags_without_effect

    if args.compare_graders and not args.regrade:
        raise CommandError("--compare-graders compares the graders on a saved run and generates nothing; give the "
                           "run with --regrade DIR (a folder written by `oneshot-rlvr eval --out`)")
    if args.compare_graders and args.grader is not None:
        raise CommandError(f"--grader has no effect with --compare-graders, which grades with every grader "
                           f"({', '.join(GRADERS)}); drop --grader")
    refuse_flags_without_effect(args, REGRADE_FLAGS, "--regrade", "which re-grades DIR/samples.jsonl without "
                                "generating and rewrites DIR's files in place",
                                "only --workers, --grader and --compare-graders go with --regrade")


def run_regrade(args: argparse.Namespace) -> int:
    from .evaluate import markdown_table

    check_regrade_flags(args)
    if args.compare_graders:
        report, markdown = compare_graders(args.regrade, args.workers)
        sys.stdout.write(markdown)
        count = len(report["differences"])
        print(f"{count} sample{'s' if count != 1 else ''} graded differently; wrote "
              f"{Path(args.regrade) / PARITY_MARKDOWN} and {Path(args.regrade) / PARITY_JSON}", file=sys.stderr)
        return 0
    summary = regrade(args.regrade, args.workers, args.grader)
    print(markdown_table(summary))
    return 0
