"""Stage 4: the report. It reads what a run wrote and writes ``report.md`` and ``plots/*.png``.

    oneshot-rlvr report runs/pi1               # a train run (metrics.jsonl, eval.jsonl): into runs/pi1
    oneshot-rlvr report runs/eval --out rep    # an eval run (summary.json)
    oneshot-rlvr report runs/demo              # a demo (demo.json): 1-shot RLVR against its controls

Reading the runs is ``runlogs.py``; the findings (the paper's claims (a)–(g), each with its rule) are
``findings.py`` (a demo's, decided over its seeds: ``demo_findings.py``); the charts are ``plots.py``; a demo's
report is ``demo_report.py``. Every number in the report is read from the run's files and
shown with its sample size. A held-out evaluation's overall accuracy is pooled over its benchmarks: correct =
round(accuracy × n) per benchmark, summed, over the summed n (n = graded responses: problems × samples per
problem). 95% intervals are Wilson's (``metrics.wilson_interval``); comparisons are two-proportion z-tests
(``metrics.two_proportion_test``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .cliutil import EXIT_FAILURE, CommandError, check_output_dir, write_atomically
from .demo_report import demo_report
from .findings import SATURATION_ACCURACY, SATURATION_WINDOW, common_benchmarks, format_p, run_findings, saturation_step
from .metrics import two_proportion_test
from .report_text import NOTE, findings_section, plots_section, rate_cell, share_of, short_rate, table
from .runlogs import RATE_KEYS, EvalRunLog, Evaluation, RunLog, detect_kind, load_demo, load_eval_run, load_run

HELP = "report a train, eval or demo run: report.md with plots, tables and the findings"
CONFIG_KEYS = ("model", "algorithm", "reward", "reward_mode", "data", "examples", "wrong_label", "steps",
               "prompts_per_step", "rollouts", "learning_rate", "kl_coef", "entropy_coef", "temperature",
               "max_response_tokens", "eval_benchmarks", "eval_every", "eval_limit", "seed")


def _optional_rate(raw: dict, key: str) -> str:
    return "–" if raw.get(key) is None else f"{raw[key]:.1%}"


def before_after_table(first: Evaluation, last: Evaluation) -> list[str]:
    """Per benchmark, then pooled: strict, lenient (with intervals), boxed and reflection, first → last."""
    common, rows = common_benchmarks(first, last), []
    for name in [*dict.fromkeys([*first.scores, *last.scores]), None]:
        take = {key: (share_of(first, key, name, common), share_of(last, key, name, common)) for key in RATE_KEYS}
        before, after = take["lenient"]
        sizes = dict.fromkeys(p.n for p in (before, after) if p is not None)
        test = two_proportion_test(before, after) if before and after else None
        rows.append(["all (pooled)" if name is None else name, " → ".join(map(str, sizes)),
                     *map(rate_cell, take["strict"]), rate_cell(before), rate_cell(after),
                     f"{test.points:+.1f} points (one-sided {format_p(test.p_greater)})" if test else "–",
                     " → ".join(map(short_rate, take["boxed_rate"])),
                     " → ".join(map(short_rate, take["reflection_rate"]))])
    s0, s1 = first.step, last.step
    return table(["benchmark", "n", f"strict, step {s0}", f"strict, step {s1}", f"lenient, step {s0}",
                  f"lenient, step {s1}", "Δ lenient", f"boxed, {s0} → {s1}", f"reflection, {s0} → {s1}"], rows)


def _train_description(run: RunLog) -> list[str]:
    lines = [f"- {key}: `{run.config[key]}`" for key in CONFIG_KEYS if key in run.config]
    lines.append(f"- metrics.jsonl: {len(run.steps)} step(s) logged"
                 + (f", steps {run.steps[0]['step']}–{run.steps[-1]['step']}" if run.steps else ""))
    lines.append("- eval.jsonl: held-out evaluations at step(s) " + (", ".join(str(e.step) for e in run.evaluations)
                                                                     or "none"))
    accuracy = run.series("train_accuracy")
    if accuracy:
        step = saturation_step(accuracy)
        state = f"saturated at step {step}" if step is not None else "not saturated"
        lines.append(f"- training accuracy: {accuracy[0][1]:.1%} at step {accuracy[0][0]}, {accuracy[-1][1]:.1%} at "
                     f"step {accuracy[-1][0]}; {state} ({SATURATION_WINDOW}-step moving average ≥ "
                     f"{SATURATION_ACCURACY:.0%})")
    if run.history:
        sampled = {k: v for k, v in run.history.items() if v}
        listed = sorted(sampled.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
        lines.append(f"- history.json: {len(run.history)} example(s); " + "; ".join(
            f"{k}: sampled {len(v)} times, accuracy {v[0]:.2f} first, {v[-1]:.2f} last" for k, v in listed)
                     + ("; …" if len(sampled) > len(listed) else ""))
    return lines


def train_report(run: RunLog, plots_dir: Path) -> list[str]:
    from . import plots

    charts = plots.charts_for_run(run, plots_dir, run.path.name)
    lines = [f"# Training run report: {run.path.name}", "", "## What was run", "", *_train_description(run), "",
             *findings_section(run_findings(run, f"run {run.path.name}")), *plots_section(charts)]
    if run.evaluations:
        first, last = run.evaluations[0], run.evaluations[-1]
        lines += [f"## Held-out accuracy, step {first.step} and step {last.step}", "", *before_after_table(first, last)]
    from .report_completions import completions_section

    return lines + completions_section(run.path)


def eval_report(run: EvalRunLog, plots_dir: Path) -> list[str]:
    from . import plots

    charts = plots.charts_for_eval(run, plots_dir)
    config = run.config
    lines = [f"# Evaluation report: {run.model}", "", "## What was run", "", f"- model: `{run.model}`"]
    lines += [f"- {key}: `{config[key]}`" for key in ("benchmarks", "template", "protocol", "n_samples", "temperature",
                                                      "max_tokens", "limit", "seed") if key in config]
    lines += ["", "## Findings", "", "- An evaluation alone measures no change: the findings need a train run or a "
              "demo (step 0 against later steps).", "", *plots_section(charts), "## Held-out accuracy", "", NOTE, ""]
    rows = []
    for name, score in run.evaluation.scores.items():
        raw = run.summary["benchmarks"][name]
        k = str(raw.get("k", 1))
        rows.append([name, f"{score.n} × {score.k}", rate_cell(score.proportion("strict")),
                     rate_cell(score.proportion("lenient")),
                     f"{raw['pass@k'][k]:.1%} (k={k})" if (raw.get("pass@k") or {}).get(k) is not None else "–",
                     _optional_rate(raw, "maj@k"), short_rate(score.proportion("boxed_rate")),
                     _optional_rate(raw, "truncated_rate"),
                     short_rate(score.proportion("reflection_rate")),
                     f"{score.mean_length:.0f}" if score.mean_length is not None else "–"])
    pooled = run.evaluation
    rows.append(["all (pooled)", str(pooled.pooled("lenient").n), rate_cell(pooled.pooled("strict")),
                 rate_cell(pooled.pooled("lenient")), "–", "–", short_rate(pooled.pooled("boxed_rate")), "–",
                 short_rate(pooled.pooled("reflection_rate")), "–"])
    lines += table(["benchmark", "problems × samples", "strict", "lenient", "pass@k", "maj@k", "boxed", "truncated",
                    "reflection", "mean length"], rows)
    if run.summary.get("paper6_mean") is not None:
        lines += [f"Mean avg@k over the paper's six benchmarks: {run.summary['paper6_mean']:.1%}.", ""]
    return lines


def build_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write ``report.md`` and ``plots/*.png`` for the run in ``run_dir`` into ``out_dir`` (default: ``run_dir``);
    returns the path of report.md. Bad input raises CommandError before anything is written; the plots are
    drawn into a temporary folder that replaces ``plots/`` only once report.md is written."""
    kind = detect_kind(run_dir)
    if out_dir is not None:
        check_output_dir(str(out_dir))
    out = Path(run_dir if out_dir is None else out_dir)
    target, plots_dir = out / "report.md", out / "plots"
    if target.exists() and not target.is_file():
        raise CommandError(f"{target}: is a folder; move it away or give --out another folder")
    if plots_dir.exists() and not plots_dir.is_dir():
        raise CommandError(f"{plots_dir}: is a file; move it away or give --out another folder")
    loaded = {"demo": load_demo, "train": load_run, "eval": load_eval_run}[kind](run_dir)
    render = {"demo": demo_report, "train": train_report, "eval": eval_report}[kind]
    made = next((f for f in reversed([out, *out.parents]) if not f.exists()), None)  # the outermost folder made
    out.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=out, prefix=".plots."))
    try:
        lines = render(loaded, partial)
        while lines and lines[-1] == "":
            lines.pop()
        write_atomically(str(target), [line + "\n" for line in lines])
        shutil.rmtree(plots_dir, ignore_errors=True)
        os.replace(partial, plots_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    return target


# --- command line -----------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a train run (metrics.jsonl, eval.jsonl), an eval run "
                        "(summary.json) or a demo (demo.json)")
    parser.add_argument("--out", metavar="DIR", help="where report.md and plots/ go (default: RUN_DIR)")


def run(args: argparse.Namespace) -> int:
    try:
        target = build_report(args.run_dir, args.out)
    except OSError as error:
        raise CommandError(f"cannot write the report: {error}", status=EXIT_FAILURE) from None
    print(f"report: {target}", file=sys.stderr)
    return 0
