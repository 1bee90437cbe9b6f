"""The report's charts (``runlogs.py`` and ``findings.py`` prepare the numbers; this module only draws them).

Each function draws one chart from plain numbers and writes one PNG whole: a temporary file beside it,
then ``os.replace``. matplotlib is imported inside the functions (``oneshot-rlvr --help`` stays fast) and
draws on the Agg canvas through ``Figure`` directly, not pyplot: no display, no global figure state. The
PNG carries no software/version text, so the same numbers give the same file on the same matplotlib.

An interval bar is ``(rate, low, high, n)``: a share, its 95% Wilson interval and its sample size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .findings import SATURATION_ACCURACY, SATURATION_WINDOW, moving_average, saturation_step

Points = Sequence[tuple[float, float]]  # (step, value)
IntervalBar = tuple[float, float, float, int]  # (rate, low, high, n)

RAW_COLOR, AVERAGE_COLOR, STRICT_COLOR, LENIENT_COLOR = "#9ecae1", "#08519c", "#e6550d", "#31a354"


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
        errors = [[bar[0] - bar[1] for bar in shown], [bar[2] - bar[0] for bar in shown]]
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


def runs_held_out(path: Path, *, series: Mapping[str, Points], title: str, emphasized: str | None = None) -> Path:
    """Held-out accuracy per step, one line per run; the ``emphasized`` run's line drawn thicker."""
    figure, (axes,) = _figure()
    for label, points in series.items():
        axes.plot(*_unzip(points), marker="o", label=label, linewidth=3 if label == emphasized else 1.5)
    axes.set(xlabel="step", ylabel="held-out accuracy, lenient (pooled)", ylim=(-0.02, 1.02), title=title)
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


def charts_for_demo(demo, plots_dir: Path) -> list[tuple[str, str]]:
    """The one-shot run's charts, then per-category, strict/lenient and held-out curves over all runs present."""
    one_shot = demo.run("one-shot")
    charts = []
    if one_shot and one_shot.log:
        charts = charts_for_run(one_shot.log, plots_dir, one_shot.label, per_benchmark=False)
    present = [r for r in demo.runs if r.log is not None and r.log.evaluations]
    if not present:
        return charts
    categories = list(dict.fromkeys([*demo.categories, *(n for r in present for n in r.log.evaluations[-1].scores)]))
    series = {}
    if any(run is one_shot for run in present):
        base = one_shot.log.evaluations[0]
        series[f"base (step {base.step})"] = [_bar(base.scores[c].proportion("lenient")) if c in base.scores else None
                                              for c in categories]
    for run in present:
        final = run.log.evaluations[-1]
        series[f"{run.name} (step {final.step})"] = [
            _bar(final.scores[c].proportion("lenient")) if c in final.scores else None for c in categories]
    interval_bars(plots_dir / "categories.png", groups=categories, series=series, marked=demo.pi1_category,
                  ylabel="held-out accuracy, lenient", title="per category: base and each run's final evaluation")
    charts.append(("categories.png", "lenient accuracy per category: base (step 0 of the one-shot run) and each run's "
                                     "final evaluation, 95% Wilson intervals; π1's category marked"))
    finals = {r.name: r.log.evaluations[-1] for r in present}
    interval_bars(plots_dir / "strict_lenient.png", groups=list(finals), ylabel="held-out accuracy (pooled)",
                  series={key: [_bar(e.pooled(key)) for e in finals.values()] for key in ("strict", "lenient")},
                  title="final strict against lenient accuracy per run (95% Wilson intervals)")
    charts.append(("strict_lenient.png", "final strict (boxed answer) against lenient accuracy per run, pooled: "
                                         "the gap is format, not reasoning"))
    runs_held_out(plots_dir / "runs_heldout.png", series={r.label: _held_out(r.log, "lenient") for r in present},
                  title="held-out accuracy per step: 1-shot against the controls",
                  emphasized=one_shot.label if one_shot else None)
    charts.append(("runs_heldout.png", "pooled lenient held-out accuracy per step, one line per run"))
    return charts
