"""The report's charts (``runlogs.py`` and ``findings.py`` prepare the numbers; this module only draws them).

Each function draws one chart from plain numbers and writes one PNG whole: a temporary file beside it,
then ``os.replace``. matplotlib is imported inside the functions (``oneshot-rlvr --help`` stays fast) and
draws on the Agg canvas through ``Figure`` directly, not pyplot: no display, no global figure state. The
PNG carries no software/version text, so the same numbers give the same file on the same matplotlib.

An interval bar is ``(rate, low, high, n)``: a share, its 95% Wilson interval and its sample size (over a
demo's seeds: their mean and min–max range, n per seed). A seed band is a role's mean over its seeds at each
step with the min–max range shaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .demo_findings import seed_count, seed_name
from .findings import SATURATION_ACCURACY, SATURATION_WINDOW, moving_average, saturation_step

Points = Sequence[tuple[float, float]]  # (step, value)
IntervalBar = tuple[float, float, float, int]  # (rate, low, high, n)

RAW_COLOR, AVERAGE_COLOR, STRICT_COLOR, LENIENT_COLOR = "#9ecae1", "#08519c", "#e6550d", "#31a354"
DASHES = ("--", "-.", ":", (0, (5, 1, 1, 1)))  # one per seed's saturation line


def _figure(rows: int = 1, width: float = 8.0, height: float = 4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, list(figure.subplots(rows, 1, squeeze=False)[:, 0])


def _save(figure, path: Path) -> Path:
    from .cliutil import replace_atomically

    replace_atomically(str(path), lambda temporary: figure.savefig(temporary, format="png", metadata={"Software": None}))
    return Path(path)


def _unzip(points: Points) -> tuple[list[float], list[float]]:
    return [p[0] for p in points], [p[1] for p in points]


def training_curve(path: Path, *, train: Points, moving_average: Points, strict: Points, lenient: Points,
                   saturation_step: int | None, window: int, threshold: float, title: str) -> Path:
    """Training accuracy (raw and moving average) and held-out accuracy per step; the saturation marker."""
    figure, (axes,) = _figure()
    if train:
        axes.plot(*_unzip(train), color=RAW_COLOR, linewidth=1, label="training accuracy (per step)")
    if moving_average:
        axes.plot(*_unzip(moving_average), color=AVERAGE_COLOR, linewidth=2,
                  label=f"training accuracy ({window}-step moving average)")
    if strict:
        axes.plot(*_unzip(strict), color=STRICT_COLOR, marker="o", label="held-out accuracy, strict (pooled)")
    if lenient:
        axes.plot(*_unzip(lenient), color=LENIENT_COLOR, marker="s", label="held-out accuracy, lenient (pooled)")
    if saturation_step is not None:
        axes.axvline(saturation_step, color="grey", linestyle="--",
                     label=f"saturation: step {saturation_step} (moving average ≥ {threshold:.0%})")
    axes.set(xlabel="step", ylabel="accuracy", ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def entropy_length(path: Path, *, entropy: Points, length: Points, title: str) -> Path:
    """Two panels: policy entropy and mean response length per step."""
    figure, (top, bottom) = _figure(rows=2, height=6.0)
    for axes, points, label in ((top, entropy, "entropy"), (bottom, length, "mean response length (tokens)")):
        if points:
            axes.plot(*_unzip(points), color=AVERAGE_COLOR, marker="." if len(points) < 50 else None)
        else:
            axes.text(0.5, 0.5, "not logged", ha="center", va="center", transform=axes.transAxes)
        axes.set(ylabel=label)
        axes.grid(alpha=0.3)
    top.set_title(title)
    bottom.set_xlabel("step")
    return _save(figure, path)


def format_reflection(path: Path, *, boxed: Points, reflection: Points, title: str) -> Path:
    """Held-out share of boxed answers and of responses with a self-reflection word, per evaluation step."""
    figure, (axes,) = _figure()
    if boxed:
        axes.plot(*_unzip(boxed), color=STRICT_COLOR, marker="o", label="boxed answer rate")
    if reflection:
        axes.plot(*_unzip(reflection), color=AVERAGE_COLOR, marker="s", label="reflection rate")
    axes.set(xlabel="step", ylabel="share of held-out responses", ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def _sizes(bars: Sequence[IntervalBar | None]) -> str:
    sizes = list(dict.fromkeys(bar[3] for bar in bars if bar is not None))
    return "n=" + "/".join(str(n) for n in sizes) if sizes else "n/a"


def interval_bars(path: Path, *, groups: Sequence[str], series: Mapping[str, Sequence[IntervalBar | None]],
                  ylabel: str, title: str, marked: str | None = None) -> Path:
    """Grouped bars with 95% error bars: one group per ``groups`` entry, one bar per ``series`` entry.

    ``series[label][i]`` is the bar of ``groups[i]`` (None: not measured, no bar). A group named ``marked``
    (π1's category) is labelled as such. Each group's label carries its sample size(s).
    """
    figure, (axes,) = _figure(width=min(14.0, max(8.0, 0.35 * len(groups) * len(series) + 3)))
    width = 0.8 / max(1, len(series))
    for index, (label, bars) in enumerate(series.items()):
        xs = [group + (index - (len(series) - 1) / 2) * width for group, bar in enumerate(bars) if bar is not None]
        shown = [bar for bar in bars if bar is not None]
        heights = [bar[0] for bar in shown]
        # clamped at 0: a mean over equal seeds can sit a rounding error outside its own min–max range
        errors = [[max(0.0, bar[0] - bar[1]) for bar in shown], [max(0.0, bar[2] - bar[0]) for bar in shown]]
        axes.bar(xs, heights, width=width, yerr=errors, capsize=3, label=label)
    labels = []
    for position, group in enumerate(groups):
        column = [bars[position] for bars in series.values()]
        labels.append(f"{group}{' (π1)' if group == marked else ''}\n{_sizes(column)}")
    axes.set_xticks(range(len(groups)), labels, fontsize="small")
    axes.set(ylabel=ylabel, xlim=(-0.6, len(groups) - 0.4), ylim=(0, 1.05), title=title)
    axes.grid(alpha=0.3, axis="y")
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def seed_band(per_seed: Sequence[Points]) -> list[tuple[float, float, float, float]]:
    """(step, mean, min, max) over the seeds that logged each step."""
    values: dict[float, list[float]] = {}
    for points in per_seed:
        for step, value in points:
            values.setdefault(step, []).append(value)
    return [(step, sum(v) / len(v), min(v), max(v)) for step, v in sorted(values.items())]


def seed_bands(path: Path, *, series: Mapping[str, Sequence[Points]], ylabel: str, title: str,
               marks: Sequence[tuple[float, str]] = (), threshold: float | None = None) -> Path:
    """One line per ``series`` label: the mean over its seeds (one list of points per seed) at each step, the
    min–max band shaded; a label with one seed is a plain line. ``marks``: dashed vertical lines (step, legend
    label); ``threshold``: a dotted horizontal line."""
    figure, (axes,) = _figure()
    for index, (label, per_seed) in enumerate(series.items()):
        band = seed_band(per_seed)
        steps = [b[0] for b in band]
        color = f"C{index % 10}"
        axes.plot(steps, [b[1] for b in band], color=color, marker="o" if len(steps) <= 30 else None, label=label)
        if len(per_seed) > 1:
            axes.fill_between(steps, [b[2] for b in band], [b[3] for b in band], color=color, alpha=0.2, linewidth=0)
    for index, (step, label) in enumerate(marks):
        axes.axvline(step, color="grey", linestyle=DASHES[index % len(DASHES)], linewidth=1, label=label)
    if threshold is not None:
        axes.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    axes.set(xlabel="step", ylabel=ylabel, ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


# --- which charts a run gets ------------------------------------------------------------------------
# These read runlogs.py's records.

def _bar(proportion) -> IntervalBar | None:
    return None if proportion is None else (proportion.rate, *proportion.interval(), proportion.n)


def _held_out(run, key: str) -> list[tuple[float, float]]:
    points = [(e.step, e.pooled(key)) for e in run.evaluations]
    return [(step, p.rate) for step, p in points if p is not None]


def charts_for_run(run, plots_dir: Path, label: str, per_benchmark: bool = True) -> list[tuple[str, str]]:
    """The charts of one train run (``runlogs.RunLog``) that its logs allow: [(file name, caption)].
    ``per_benchmark`` False leaves out categories.png and strict_lenient.png (a demo draws them over runs)."""
    charts = []
    accuracy = run.series("train_accuracy")
    if accuracy or run.evaluations:
        step = saturation_step(accuracy)
        training_curve(plots_dir / "training_curve.png", train=accuracy, moving_average=moving_average(accuracy),
                       strict=_held_out(run, "strict"), lenient=_held_out(run, "lenient"), saturation_step=step,
                       window=SATURATION_WINDOW, threshold=SATURATION_ACCURACY, title=f"{label}: accuracy per step")
        charts.append(("training_curve.png", f"{label}: training accuracy (raw, {SATURATION_WINDOW}-step moving "
                       f"average) and pooled held-out accuracy per step; dashed: saturation"
                       + (f" at step {step}" if step is not None else " (not reached)")))
    entropy, length = run.series("entropy"), run.series("mean_length")
    if entropy or length:
        entropy_length(plots_dir / "entropy_length.png", entropy=entropy, length=length,
                       title=f"{label}: entropy and response length")
        charts.append(("entropy_length.png", f"{label}: policy entropy and mean training response length per step"))
    boxed, reflection = _held_out(run, "boxed_rate"), _held_out(run, "reflection_rate")
    if boxed or reflection:
        format_reflection(plots_dir / "format_reflection.png", boxed=boxed, reflection=reflection,
                          title=f"{label}: held-out format and self-reflection")
        charts.append(("format_reflection.png", f"{label}: held-out boxed-answer rate and reflection rate per "
                                                f"evaluation (pooled)"))
    if run.evaluations and per_benchmark:
        first, last = run.evaluations[0], run.evaluations[-1]
        names = list(dict.fromkeys([*first.scores, *last.scores]))
        series = {f"step {e.step}": [_bar(e.scores[n].proportion("lenient")) if n in e.scores else None for n in names]
                  for e in ([first] if first is last else [first, last])}
        interval_bars(plots_dir / "categories.png", groups=names, series=series, ylabel="held-out accuracy, lenient",
                      title=f"{label}: per benchmark, first and last evaluation (95% Wilson intervals)")
        charts.append(("categories.png", f"{label}: lenient accuracy per benchmark at step {first.step} and step "
                                         f"{last.step}, 95% Wilson intervals"))
        _strict_lenient(plots_dir, list(last.scores), last, f"{label}, step {last.step}")
        charts.append(("strict_lenient.png", f"{label}: strict (boxed answer) against lenient accuracy per benchmark "
                                             f"at step {last.step}: the gap is format, not reasoning"))
    return charts


def _strict_lenient(plots_dir: Path, names: Sequence[str], evaluation, title: str) -> None:
    interval_bars(plots_dir / "strict_lenient.png", groups=names,
                  series={key: [_bar(evaluation.scores[n].proportion(key)) for n in names]
                          for key in ("strict", "lenient")},
                  ylabel="held-out accuracy", title=f"{title}: strict against lenient (95% Wilson intervals)")


def charts_for_eval(run, plots_dir: Path) -> list[tuple[str, str]]:
    """The charts of an eval run (``runlogs.EvalRunLog``)."""
    scores = run.evaluation.scores
    names = list(scores)
    interval_bars(plots_dir / "categories.png", groups=names, ylabel="accuracy, lenient",
                  series={run.model or "model": [_bar(scores[n].proportion("lenient")) for n in names]},
                  title=f"{run.model}: per benchmark (95% Wilson intervals)")
    _strict_lenient(plots_dir, names, run.evaluation, str(run.model))
    return [("categories.png", f"{run.model}: lenient accuracy per benchmark, 95% Wilson intervals"),
            ("strict_lenient.png", f"{run.model}: strict (boxed answer) against lenient accuracy per benchmark: "
                                   f"the gap is format, not reasoning")]


def _role_label(role: str, runs) -> str:
    return role if len(runs) == 1 else f"{role} ({seed_count(len(runs))})"


def _seed_bar(shares) -> IntervalBar | None:
    """One seed: its rate with the 95% Wilson interval; several: the mean with the min–max range."""
    if len(shares) < 2:
        return _bar(shares[0]) if shares else None
    rates = [p.rate for p in shares]
    return (sum(rates) / len(rates), min(rates), max(rates), shares[0].n)


def charts_for_demo(demo, plots_dir: Path) -> list[tuple[str, str]]:
    """A demo's charts (``runlogs.Demo``), each over the seeds: the 1-shot runs' training accuracy with each
    seed's saturation step, held-out accuracy and skill share per role, and the per-category bars."""
    by_role = {role: [r for r in demo.runs_of(role) if r.log is not None and r.log.evaluations]
               for role in demo.roles()}
    by_role = {role: runs for role, runs in by_role.items() if runs}
    charts = _one_shot_training(demo, plots_dir)
    if not by_role:
        return charts
    labels = {role: _role_label(role, runs) for role, runs in by_role.items()}
    seed_bands(plots_dir / "runs_heldout.png", ylabel="held-out accuracy, lenient (pooled)",
               series={labels[role]: [_held_out(r.log, "lenient") for r in runs] for role, runs in by_role.items()},
               title="held-out accuracy per step: 1-shot against the controls")
    charts.append(("runs_heldout.png", "pooled lenient held-out accuracy per step, per role: the mean over its seeds, "
                                       "the min–max band shaded (one seed: a plain line)"))
    reflection = {labels[role]: [_held_out(r.log, "reflection_rate") for r in runs] for role, runs in by_role.items()}
    reflection = {label: per_seed for label, per_seed in reflection.items() if any(per_seed)}  # logged at all
    if reflection:
        seed_bands(plots_dir / "skill_share.png", series=reflection, ylabel="share of held-out responses",
                   title="skill share (responses that recheck) per step")
        charts.append(("skill_share.png", "skill share per step: the held-out responses using the skill (reflection "
                                          "rate), per role, mean over its seeds with the min–max band"))
    charts.append(_category_bars(demo, by_role, labels, plots_dir))
    return charts


def _one_shot_training(demo, plots_dir: Path) -> list[tuple[str, str]]:
    runs = [r for r in demo.runs_of("one-shot") if r.log is not None and r.log.series("train_accuracy")]
    if not runs:
        return []
    accuracy = [r.log.series("train_accuracy") for r in runs]
    steps = [(r.seed, saturation_step(points)) for r, points in zip(runs, accuracy)]
    marks = [(step, f"{seed_name(seed)}: saturation at step {step}") for seed, step in steps if step is not None]
    seed_bands(plots_dir / "training_curve.png", marks=marks, threshold=SATURATION_ACCURACY, ylabel="accuracy",
               series={f"training accuracy ({seed_count(len(runs))})": accuracy,
                       f"{SATURATION_WINDOW}-step moving average": [moving_average(points) for points in accuracy]},
               title="1-shot RLVR on π1: training accuracy per step")
    reached = ", ".join(f"{seed_name(seed)} {'not reached' if step is None else f'step {step}'}"
                        for seed, step in steps)
    return [("training_curve.png", f"1-shot runs: training accuracy per step and its {SATURATION_WINDOW}-step moving "
                                   f"average, mean over the seeds with the min–max band; dashed: each seed's "
                                   f"saturation (moving average ≥ {SATURATION_ACCURACY:.0%}): {reached}")]


def _category_bars(demo, by_role, labels, plots_dir: Path) -> tuple[str, str]:
    finals = {role: [r.log.evaluations[-1] for r in runs] for role, runs in by_role.items()}
    categories = list(dict.fromkeys([*demo.categories, *(n for es in finals.values() for e in es for n in e.scores)]))

    def bars(evaluations):
        return [_seed_bar([e.scores[c].proportion("lenient") for e in evaluations if c in e.scores])
                for c in categories]

    series = {}
    if "one-shot" in by_role:
        series["base (step 0 of the 1-shot runs)"] = bars([r.log.evaluations[0] for r in by_role["one-shot"]])
    series.update({labels[role]: bars(evaluations) for role, evaluations in finals.items()})
    interval_bars(plots_dir / "categories.png", groups=categories, series=series, marked=demo.pi1_category,
                  ylabel="held-out accuracy, lenient", title="per category: base and each role's final evaluation")
    return ("categories.png", "lenient accuracy per category: base (step 0 of the one-shot runs) and each role's final "
                              "evaluation; one seed: 95% Wilson interval, several: their mean with the min–max range; "
                              "π1's category marked")
