"""Stage 4: the report. It reads what a run wrote and writes ``report.md`` and ``plots/*.png``.

    oneshot-rlvr report runs/pi1               # a train run (metrics.jsonl, eval.jsonl): into runs/pi1
    oneshot-rlvr report runs/eval --out rep    # an eval run (summary.json)
    oneshot-rlvr report runs/demo              # a demo (demo.json): 1-shot RLVR against its controls

Reading the runs is ``runlogs.py``; the findings (the paper's claims (a)–(g), each with its rule) are
``findings.py``; the charts are ``plots.py``. Every number in the report is read from the run's files and
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
from collections.abc import Sequence
from pathlib import Path

from .cliutil import EXIT_FAILURE, CommandError, check_output_dir, write_atomically
from .findings import (SATURATION_ACCURACY, SATURATION_WINDOW, Finding, common_benchmarks, findings, format_p,
                       missing_evaluations, run_findings, saturation_step)
from .metrics import Proportion, two_proportion_test
from .runlogs import (RATE_KEYS, Demo, DemoRun, EvalRunLog, Evaluation, RunLog, detect_kind, load_demo, load_eval_run,
                      load_run)

HELP = "report a train, eval or demo run: report.md with plots, tables and the findings"
NOTE = ("Accuracies are pooled over benchmarks as correct/n of graded responses, shown as rate (correct/n) "
        "[95% Wilson interval]; p-values are two-proportion z-tests; α = 0.05.")
CONFIG_KEYS = ("model", "algorithm", "reward", "reward_mode", "data", "examples", "wrong_label", "steps",
               "prompts_per_step", "rollouts", "learning_rate", "kl_coef", "entropy_coef", "temperature",
               "max_response_tokens", "eval_benchmarks", "eval_every", "eval_limit", "seed")


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows), ""]


def _rate(p: Proportion | None) -> str:
    return "–" if p is None else p.cell()


def _short(p: Proportion | None) -> str:
    return "–" if p is None else f"{p.rate:.1%}"


def _optional_rate(raw: dict, key: str) -> str:
    return "–" if raw.get(key) is None else f"{raw[key]:.1%}"


def _take(evaluation: Evaluation, key: str, name: str | None, pooled_over: Sequence[str]) -> Proportion | None:
    """Benchmark ``name``'s share of ``key`` (None: pooled over ``pooled_over``); None where not logged."""
    if name is None:
        return evaluation.pooled(key, pooled_over)
    return evaluation.scores[name].proportion(key) if name in evaluation.scores else None


def before_after_table(first: Evaluation, last: Evaluation) -> list[str]:
    """Per benchmark, then pooled: strict, lenient (with intervals), boxed and reflection, first → last."""
    common, rows = common_benchmarks(first, last), []
    for name in [*dict.fromkeys([*first.scores, *last.scores]), None]:
        take = {key: (_take(first, key, name, common), _take(last, key, name, common)) for key in RATE_KEYS}
        before, after = take["lenient"]
        sizes = dict.fromkeys(p.n for p in (before, after) if p is not None)
        test = two_proportion_test(before, after) if before and after else None
        rows.append(["all (pooled)" if name is None else name, " → ".join(map(str, sizes)),
                     *map(_rate, take["strict"]), _rate(before), _rate(after),
                     f"{test.points:+.1f} points (one-sided {format_p(test.p_greater)})" if test else "–",
                     " → ".join(map(_short, take["boxed_rate"])), " → ".join(map(_short, take["reflection_rate"]))])
    s0, s1 = first.step, last.step
    return _table(["benchmark", "n", f"strict, step {s0}", f"strict, step {s1}", f"lenient, step {s0}",
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


def _findings_section(found: Sequence[Finding]) -> list[str]:
    return ["## Findings", "", NOTE, "", *(f.markdown() for f in found), ""]


def _plots_section(charts: Sequence[tuple[str, str]], absent: str = "") -> list[str]:
    lines = ["## Plots", ""]
    for name, caption in charts:
        lines += [f"![{name[:-4].replace('_', ' ')}](plots/{name})", "", f"*{caption}*", ""]
    return lines + ([absent, ""] if absent else [])


def train_report(run: RunLog, plots_dir: Path) -> list[str]:
    from . import plots

    charts = plots.charts_for_run(run, plots_dir, run.path.name)
    lines = [f"# Training run report: {run.path.name}", "", "## What was run", "", *_train_description(run), "",
             *_findings_section(run_findings(run, f"run {run.path.name}")), *_plots_section(charts)]
    if run.evaluations:
        first, last = run.evaluations[0], run.evaluations[-1]
        lines += [f"## Held-out accuracy, step {first.step} and step {last.step}", "", *before_after_table(first, last)]
    return lines


def eval_report(run: EvalRunLog, plots_dir: Path) -> list[str]:
    from . import plots

    charts = plots.charts_for_eval(run, plots_dir)
    config = run.config
    lines = [f"# Evaluation report: {run.model}", "", "## What was run", "", f"- model: `{run.model}`"]
    lines += [f"- {key}: `{config[key]}`" for key in ("benchmarks", "template", "protocol", "n_samples", "temperature",
                                                      "max_tokens", "limit", "seed") if key in config]
    lines += ["", "## Findings", "", "- An evaluation alone measures no change: the findings need a train run or a "
              "demo (step 0 against later steps).", "", *_plots_section(charts), "## Held-out accuracy", "", NOTE, ""]
    rows = []
    for name, score in run.evaluation.scores.items():
        raw = run.summary["benchmarks"][name]
        k = str(raw.get("k", 1))
        rows.append([name, f"{score.n} × {score.k}", _rate(score.proportion("strict")),
                     _rate(score.proportion("lenient")),
                     f"{raw['pass@k'][k]:.1%} (k={k})" if (raw.get("pass@k") or {}).get(k) is not None else "–",
                     _optional_rate(raw, "maj@k"), _short(score.proportion("boxed_rate")),
                     _optional_rate(raw, "truncated_rate"),
                     _short(score.proportion("reflection_rate")),
                     f"{score.mean_length:.0f}" if score.mean_length is not None else "–"])
    pooled = run.evaluation
    rows.append(["all (pooled)", str(pooled.pooled("lenient").n), _rate(pooled.pooled("strict")),
                 _rate(pooled.pooled("lenient")), "–", "–", _short(pooled.pooled("boxed_rate")), "–",
                 _short(pooled.pooled("reflection_rate")), "–"])
    lines += _table(["benchmark", "problems × samples", "strict", "lenient", "pass@k", "maj@k", "boxed", "truncated",
                     "reflection", "mean length"], rows)
    if run.summary.get("paper6_mean") is not None:
        lines += [f"Mean avg@k over the paper's six benchmarks: {run.summary['paper6_mean']:.1%}.", ""]
    return lines


def _demo_description(demo: Demo) -> list[str]:
    m = demo.manifest
    lines = [f"- seed {m.get('seed')}, budget {m.get('budget_minutes')} minutes; "
             + ("all stages finished" if m.get("complete") else "**the demo did not finish** (complete: false)")]
    seconds = m.get("seconds") or {}
    if seconds:
        stages = {k: v for k, v in seconds.items() if k != "total"}  # the demo records its own total
        lines.append("- wall time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
                     + f" (total {seconds.get('total', sum(stages.values())):.1f} s)")
    base = m.get("base") or {}
    if base:
        knobs = ", ".join(f"{k}={v}" for k, v in (base.get("corpus") or {}).items())
        size = base.get("parameters")
        lines.append(f"- base model: `{base.get('dir')}`, {f'{size:,}' if isinstance(size, int) else size} parameters"
                     + (f"; corpus: {knobs}" if knobs else ""))
    lines.append(f"- held-out categories: {', '.join(demo.categories) or '–'}")
    selection = m.get("selection") or {}
    if selection:
        top = ", ".join(f"{t.get('id')} ({t.get('category')}, score {t.get('score')})"
                        for t in selection.get("top") or [] if isinstance(t, dict))
        lines.append(f"- selection: `{selection.get('method')}` ranking over the `{selection.get('pool_run')}` run's "
                     f"training history; top: {top or '–'}")
        pi1 = selection.get("pi1") or {}
        if pi1:
            lines += [f"- π1 = `{pi1.get('id')}` (category {pi1.get('category')}, answer `{pi1.get('answer')}`):", ""]
            lines += [f"  > {line}" for line in str(pi1.get("problem", "")).splitlines()]
    lines.append("")
    rows = []
    for r in demo.runs:
        steps = ", ".join(str(e.step) for e in r.log.evaluations) if r.log else ""
        rows.append([r.name, r.label, r.role, r.reward or "–", r.examples or "–", f"not measured ({r.missing})"
                     if r.log is None else f"{len(r.log.steps)} steps, evaluations at steps {steps or 'none'}"])
    return lines + _table(["run", "label", "role", "reward", "examples", "logged"], rows)


def _final(run: DemoRun | None) -> Evaluation | None:
    return run.log.evaluations[-1] if run and run.log and run.log.evaluations else None


def closing_table(demo: Demo) -> list[str]:
    """Base (step 0 of the one-shot run) → 1-shot final → full-set final, lenient, per category and pooled."""
    one_shot, full = demo.run("one-shot"), demo.run("full-set")
    base, mine, theirs = one_shot.log.evaluations[0], one_shot.log.evaluations[-1], _final(full)
    categories = list(dict.fromkeys([*demo.categories, *base.scores]))
    shared = [c for c in categories if all(c in e.scores for e in (base, mine, theirs) if e is not None)]
    rows = []
    for name in [*categories, None]:  # the pooled row: over the categories every column has, so they compare
        shares = [None if e is None else _take(e, "lenient", name, shared) for e in (base, mine, theirs)]
        label = "all (pooled)" if name is None else f"{name} (π1's category)" if name == demo.pi1_category else name
        unmeasured = f"not measured ({full.missing if full and full.missing else 'no full-set evaluation'})"
        rows.append([label, _rate(shares[0]), _rate(shares[1]), _rate(shares[2]) if theirs else unmeasured,
                     *(f"{100 * (p.rate - shares[0].rate):+.1f}" if p and shares[0] else "–" for p in shares[1:])])
    full_step = f"step {theirs.step}" if theirs else "final"
    return ["## Base → 1-shot → full-set, per category (lenient)", "",
            f"Base = step {base.step} of the one-shot run; 1-shot = its step {mine.step}; full-set = its {full_step}. "
            f"π1's category is marked; the others measure cross-category generalization.", "",
            *_table(["category", f"base (step {base.step})", f"1-shot (step {mine.step})", f"full-set ({full_step})",
                     "1-shot − base (points)", "full-set − base (points)"], rows)]


def all_runs_table(demo: Demo) -> list[str]:
    """Every run's final held-out evaluation, pooled; runs without one are stated as not measured."""
    rows = []
    for run in demo.runs:
        final = _final(run)
        if final is None:
            why = run.missing or "eval.jsonl holds no evaluation"
            rows.append([run.name, run.role, run.reward or "–", "–", "–", f"not measured ({why})", "", "", ""])
        else:
            rows.append([run.name, run.role, run.reward or "–", final.step, final.pooled("lenient").n,
                         *(_rate(final.pooled(key)) for key in ("strict", "lenient")),
                         *(_short(final.pooled(key)) for key in ("boxed_rate", "reflection_rate"))])
    return ["## All runs, final held-out evaluation (pooled)", "",
            *_table(["run", "role", "reward", "step", "n", "strict", "lenient", "boxed", "reflection"], rows)]


def demo_report(demo: Demo, plots_dir: Path) -> list[str]:
    from . import plots

    one_shot = demo.run("one-shot")
    charts = plots.charts_for_demo(demo, plots_dir)
    why = missing_evaluations(one_shot, "one-shot", need=1)
    lines = ["# 1-shot RLVR demo report", "", "## What was run", "", *_demo_description(demo),
             *_findings_section(findings(demo)),
             *_plots_section(charts, f"The one-shot run's plots and tables are missing: {why}." if why else "")]
    if not why:
        first, last = one_shot.log.evaluations[0], one_shot.log.evaluations[-1]
        lines += [f"## {one_shot.label}: held-out accuracy, step {first.step} and step {last.step}", "",
                  *before_after_table(first, last), *closing_table(demo)]
    return lines + all_runs_table(demo)


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
