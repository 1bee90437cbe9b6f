"""Stage 4: the report. It reads what a run wrote and writes ``report.md`` and ``plots/*.png``.

    oneshot-rlvr report runs/pi1               # a train run (metrics.jsonl, eval.jsonl): into runs/pi1
    oneshot-rlvr report runs/eval --out rep    # an eval run (summary.json)
    oneshot-rlvr report runs/demo              # a demo (demo.json): 1-shot RLVR against its controls

Every number in the report is read from the run's files and shown with its sample size. A held-out
evaluation's overall accuracy is pooled over its benchmarks: correct = round(accuracy × n) per benchmark,
summed, over the summed n (n = graded responses: problems × samples per problem). 95% intervals are
Wilson's (``metrics.wilson_interval``); comparisons are two-proportion z-tests (:func:`two_proportion_test`).

Saturation (the paper's "post-saturation generalization"): the first step at which the mean training
accuracy of the last 5 logged steps is at least 90%.

Findings, each stated as reproduced / not reproduced / not measured (why), with the rule it used:
(a) the one-shot run's held-out accuracy rises from the first evaluation (step 0) to the last;
(b) it keeps rising after training accuracy saturates; (c) also on the categories other than π1's;
(d) more than the format-only control gives; (e) within noise of the full-set run (or above it);
(f) more than the random-reward and entropy-only controls give; (g) self-reflection becomes more frequent.
A train run alone gets (a), (b) and (g); an eval run alone measures no change. Runs a demo skipped (or
whose folder is empty) are reported as not measured, never guessed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import metrics
from .cliutil import EXIT_FAILURE, CommandError, write_atomically

HELP = "report a train, eval or demo run: report.md with plots, tables and the findings"
ALPHA = 0.05
SATURATION_ACCURACY, SATURATION_WINDOW = 0.9, 5
REPRODUCED, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "not reproduced", "not measured"
RATE_KEYS = ("strict", "lenient", "boxed_rate", "reflection_rate")


# --- statistics -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``n`` graded responses."""

    successes: int
    n: int

    @property
    def rate(self) -> float:
        return self.successes / self.n

    def interval(self) -> tuple[float, float]:
        return metrics.wilson_interval(self.successes, self.n)

    def __str__(self) -> str:
        return f"{self.successes}/{self.n} = {self.rate:.1%}"

    def cell(self) -> str:
        low, high = self.interval()
        return f"{self.rate:.1%} ({self.successes}/{self.n}) [{low:.1%}, {high:.1%}]"


@dataclass(frozen=True)
class ProportionTest:
    """Two-proportion z-test of ``after`` against ``before`` (pooled standard error)."""

    before: Proportion
    after: Proportion
    z: float
    p_greater: float  # one-sided: after > before
    p_two_sided: float

    @property
    def points(self) -> float:
        return 100 * (self.after.rate - self.before.rate)


def two_proportion_test(before: Proportion, after: Proportion) -> ProportionTest:
    """z = (p_after − p_before) / sqrt(p(1−p)(1/n_before + 1/n_after)), p the pooled share; normal tails
    from ``math.erfc`` (1 − erf, exact in the far tail). Equal shares of 0 or 1 give z = 0."""
    pooled = (before.successes + after.successes) / (before.n + after.n)
    error = math.sqrt(pooled * (1 - pooled) * (1 / before.n + 1 / after.n))
    z = (after.rate - before.rate) / error if error > 0 else 0.0
    upper_tail = 0.5 * math.erfc(z / math.sqrt(2))
    return ProportionTest(before, after, z, upper_tail, min(1.0, math.erfc(abs(z) / math.sqrt(2))))


def _p(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def moving_average(points: Sequence[tuple[int, float]], window: int = SATURATION_WINDOW) -> list[tuple[int, float]]:
    """Trailing mean over ``window`` logged steps, at each step that has a full window."""
    return [(points[end][0], sum(v for _, v in points[end - window + 1 : end + 1]) / window)
            for end in range(window - 1, len(points))]


def saturation_step(points: Sequence[tuple[int, float]]) -> int | None:
    """First step whose moving average of training accuracy reaches ``SATURATION_ACCURACY``; None if none."""
    return next((step for step, value in moving_average(points) if value >= SATURATION_ACCURACY), None)


# --- reading the runs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """One benchmark at one held-out evaluation; rates are over ``n × k`` graded responses."""

    n: int
    strict: float
    lenient: float
    boxed_rate: float | None = None
    reflection_rate: float | None = None
    mean_length: float | None = None
    k: int = 1

    def proportion(self, key: str) -> Proportion | None:
        rate = getattr(self, key)
        return None if rate is None else Proportion(round(rate * self.n * self.k), self.n * self.k)


@dataclass(frozen=True)
class Evaluation:
    """One held-out evaluation: ``step`` (None for an eval run) and a Score per benchmark."""

    step: int | None
    scores: Mapping[str, Score]

    def pooled(self, key: str = "lenient", benchmarks: Sequence[str] | None = None) -> Proportion | None:
        parts = [self.scores[b].proportion(key) for b in (self.scores if benchmarks is None else benchmarks)]
        if not parts or any(p is None for p in parts):
            return None
        return Proportion(sum(p.successes for p in parts), sum(p.n for p in parts))


@dataclass(frozen=True)
class RunLog:
    """A train run folder: its recipe, one record per optimizer step, its held-out evaluations by step."""

    path: Path
    config: Mapping
    steps: tuple[Mapping, ...]
    evaluations: tuple[Evaluation, ...]
    history: Mapping[str, tuple[float, ...]]

    def series(self, key: str) -> list[tuple[int, float]]:
        return [(int(s["step"]), float(s[key])) for s in self.steps if isinstance(s.get(key), (int, float))]


@dataclass(frozen=True)
class EvalRunLog:
    path: Path
    model: str | None
    config: Mapping
    evaluation: Evaluation
    summary: Mapping  # summary.json as written, for pass@k, maj@k, truncation


@dataclass(frozen=True)
class DemoRun:
    name: str
    label: str
    role: str
    reward: str | None
    examples: str | None
    log: RunLog | None
    missing: str | None  # why there is no log


@dataclass(frozen=True)
class Demo:
    path: Path
    manifest: Mapping
    runs: tuple[DemoRun, ...]
    categories: tuple[str, ...]
    pi1_category: str | None

    def run(self, role: str) -> DemoRun | None:
        return next((r for r in self.runs if r.role == role), None)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); the file is damaged") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot read it ({error}); check the file") from None


def _read_jsonl(path: Path, required: Sequence[str]) -> list[dict]:
    """The records of a log of ``oneshot-rlvr train``; each has ``required`` keys, ``step`` among them."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot read it ({error}); check the file") from None
    lines = text.splitlines()
    if lines and not text.endswith("\n"):  # a run killed mid-write leaves a cut last line: not a record yet
        try:
            json.loads(lines[-1])
        except json.JSONDecodeError:
            lines.pop()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CommandError(f"{path}:{number}: not valid JSON ({error.msg}); the file is damaged") from None
        missing = [k for k in required if not isinstance(record, dict) or k not in record]
        if missing:
            raise CommandError(f"{path}:{number}: missing {', '.join(missing)}; not a log of `oneshot-rlvr train`")
        if not isinstance(record["step"], int) or isinstance(record["step"], bool) or record["step"] < 0:
            raise CommandError(f"{path}:{number}: step must be a whole number ≥ 0; the file is damaged")
        records.append(record)
    return records


def _score(raw, where: str, k: int = 1) -> Score:
    try:
        values = {key: None if raw.get(key) is None else float(raw[key]) for key in RATE_KEYS + ("mean_length",)}
        score = Score(n=int(raw["n"]), k=int(k), **values)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CommandError(f"{where}: needs numbers n, strict and lenient; the file is damaged") from None
    if score.n < 1 or score.k < 1 or any(not 0 <= (getattr(score, key) or 0) <= 1 for key in RATE_KEYS):
        raise CommandError(f"{where}: n must be at least 1 and rates within 0..1; the file is damaged")
    return score


def load_run(run_dir: str | Path) -> RunLog:
    """A train run folder (metrics.jsonl and/or eval.jsonl; config.yaml and history.json if present)."""
    import yaml

    path = Path(run_dir)
    metrics_path, eval_path = path / "metrics.jsonl", path / "eval.jsonl"
    if not metrics_path.is_file() and not eval_path.is_file():
        raise CommandError(f"{path}: no metrics.jsonl or eval.jsonl; give a folder written by `oneshot-rlvr train`")
    steps = _read_jsonl(metrics_path, ["step"]) if metrics_path.is_file() else []
    by_step: dict[int, Evaluation] = {}  # a resumed run may repeat a step: the later line wins
    for number, record in enumerate(_read_jsonl(eval_path, ["step", "benchmarks"]) if eval_path.is_file() else [], 1):
        where = f"{eval_path}:{number}"
        if not isinstance(record["benchmarks"], dict) or not record["benchmarks"]:
            raise CommandError(f"{where}: 'benchmarks' must name at least one benchmark; the file is damaged")
        by_step[int(record["step"])] = Evaluation(int(record["step"]), {
            name: _score(raw, f"{where} benchmark {name}") for name, raw in record["benchmarks"].items()})
    if not steps and not by_step:
        raise CommandError(f"{path}: metrics.jsonl and eval.jsonl hold no records; the run has not logged a step yet")
    config = {}
    if (path / "config.yaml").is_file():
        try:
            config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise CommandError(f"{path / 'config.yaml'}: not valid YAML ({error}); the file is damaged") from None
    history = _read_json(path / "history.json") if (path / "history.json").is_file() else {}
    if not isinstance(history, dict) or not all(isinstance(v, list) and all(isinstance(a, (int, float)) for a in v)
                                                for v in history.values()):
        raise CommandError(f"{path / 'history.json'}: not {{example id: [accuracies]}}; the file is damaged")
    return RunLog(path.resolve(), config if isinstance(config, dict) else {},
                  tuple(sorted(steps, key=lambda s: s["step"])),
                  tuple(by_step[s] for s in sorted(by_step)),
                  {str(k): tuple(v) for k, v in history.items()})


def load_eval_run(run_dir: str | Path) -> EvalRunLog:
    """An eval run folder (summary.json of ``oneshot-rlvr eval``)."""
    path = Path(run_dir) / "summary.json"
    summary = _read_json(path)
    if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict) or not summary["benchmarks"]:
        raise CommandError(f"{path}: no 'benchmarks'; not a summary of `oneshot-rlvr eval`")
    scores = {name: _score(raw, f"{path} benchmark {name}", (raw or {}).get("k", 1) if isinstance(raw, dict) else 1)
              for name, raw in summary["benchmarks"].items()}
    return EvalRunLog(Path(run_dir), summary.get("model"), summary.get("config") or {}, Evaluation(None, scores),
                      summary)


def load_demo(demo_dir: str | Path) -> Demo:
    """A demo folder: demo.json and the train run folders it names (each may be missing: skipped)."""
    path = Path(demo_dir)
    manifest = _read_json(path / "demo.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
        raise CommandError(f"{path / 'demo.json'}: no 'runs' list; not a manifest of `oneshot-rlvr demo`")
    skipped = {str(s.get("name")): str(s.get("why", "no reason given")) for s in manifest.get("skipped") or []
               if isinstance(s, dict)}
    runs = []
    for index, entry in enumerate(manifest["runs"], start=1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise CommandError(f"{path / 'demo.json'}: run {index} has no 'name'; the manifest is damaged")
        name = str(entry["name"])
        folder = path / str(entry.get("dir", name))
        log, missing = None, None
        if name in skipped:
            missing = f"skipped: {skipped[name]}"
        elif (folder / "metrics.jsonl").is_file() or (folder / "eval.jsonl").is_file():
            log = load_run(folder)
        else:
            missing = f"{entry.get('dir', name)}/ holds no metrics.jsonl or eval.jsonl"
        runs.append(DemoRun(name, str(entry.get("label") or name), str(entry.get("role", name)), entry.get("reward"),
                            None if entry.get("examples") is None else str(entry["examples"]), log, missing))
    listed = {r.name for r in runs}
    runs += [DemoRun(name, name, name, None, None, None, f"skipped: {why}") for name, why in skipped.items()
             if name not in listed]
    one_shot = next((e for e in manifest["runs"] if isinstance(e, dict) and e.get("role") == "one-shot"), {})
    pi1 = ((manifest.get("selection") or {}).get("pi1") or {})
    category = pi1.get("category") if isinstance(pi1, dict) else None
    return Demo(path, manifest, tuple(runs), tuple(str(c) for c in manifest.get("categories") or ()),
                category or one_shot.get("example_category"))


def detect_kind(run_dir: str | Path) -> str:
    """``demo`` (demo.json), ``train`` (metrics.jsonl or eval.jsonl) or ``eval`` (summary.json)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise CommandError(f"{path}: no such folder; give the folder of a train, eval or demo run")
    kinds = (("demo", ("demo.json",)), ("train", ("metrics.jsonl", "eval.jsonl")), ("eval", ("summary.json",)))
    for kind, names in kinds:
        if any((path / name).is_file() for name in names):
            return kind
    raise CommandError(f"{path}: found none of demo.json, metrics.jsonl, eval.jsonl, summary.json; give a folder "
                       f"written by `oneshot-rlvr demo`, `train` or `eval`")


# --- findings ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One claim of the paper as this run measured it; ``evidence`` says why when not measured."""

    key: str
    claim: str
    verdict: str
    evidence: str
    rule: str

    def markdown(self) -> str:
        if self.verdict == NOT_MEASURED:
            return f"- **({self.key}) {self.claim} — not measured ({self.evidence}).** Rule: {self.rule}."
        return f"- **({self.key}) {self.claim} — {self.verdict}.** {self.evidence}. Rule: {self.rule}."


def _common(first: Evaluation, last: Evaluation) -> list[str]:
    return [name for name in first.scores if name in last.scores]


def _compare(before: Evaluation, after: Evaluation, key: str = "lenient",
             benchmarks: Sequence[str] | None = None) -> ProportionTest | None:
    names = _common(before, after) if benchmarks is None else benchmarks
    a, b = before.pooled(key, names), after.pooled(key, names)
    return None if a is None or b is None else two_proportion_test(a, b)


def _verdict(test: ProportionTest) -> str:
    return REPRODUCED if test.p_greater < ALPHA else NOT_REPRODUCED


def _change(test: ProportionTest, before: Evaluation, after: Evaluation) -> str:
    """A change within one run, first evaluation to a later one."""
    return (f"step {before.step}: {test.before} → step {after.step}: {test.after} ({test.points:+.1f} points; "
            f"z = {test.z:.2f}, one-sided {_p(test.p_greater)})")


def _versus(test: ProportionTest, before: str, after: str, sided: str = "one") -> str:
    """A comparison between two runs' final evaluations."""
    p = test.p_greater if sided == "one" else test.p_two_sided
    return (f"{after} {test.after} vs {before} {test.before} ({test.points:+.1f} points; z = {test.z:.2f}, "
            f"{sided}-sided {_p(p)})")


def _missing(run: DemoRun | RunLog | None, name: str, need: int = 2) -> str | None:
    """Why ``run`` has fewer than ``need`` held-out evaluations, or None when it has enough."""
    if run is None:
        return f"no {name} run in demo.json"
    if isinstance(run, DemoRun):
        if run.log is None:
            return f"{run.name}: {run.missing}"
        run = run.log
    if len(run.evaluations) < need:
        return f"{run.path.name}/eval.jsonl holds {len(run.evaluations)} held-out evaluation(s); {need} needed"
    return None


def lift_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(a) held-out lenient accuracy, last evaluation against the first."""
    claim = f"{label} lifts held-out accuracy"
    rule = "pooled lenient accuracy, last held-out evaluation against the first (step 0), one-sided p < 0.05"
    why = why or _missing(run, label)
    if why:
        return Finding("a", claim, NOT_MEASURED, why, rule)
    first, last = run.evaluations[0], run.evaluations[-1]
    test = _compare(first, last)
    return Finding("a", claim, _verdict(test), _change(test, first, last), rule)


def saturation_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(b) held-out accuracy still rises after training accuracy has saturated."""
    claim = f"post-saturation generalization: {label}'s held-out accuracy rises after training accuracy saturates"
    rule = (f"saturation = first step whose {SATURATION_WINDOW}-step moving average of training accuracy is ≥ "
            f"{SATURATION_ACCURACY:.0%}; pooled lenient accuracy, last held-out evaluation against the first at or "
            f"after it, one-sided p < 0.05")
    why = why or _missing(run, label, need=0)
    if why:
        return Finding("b", claim, NOT_MEASURED, why, rule)
    accuracy = run.series("train_accuracy")
    if len(accuracy) < SATURATION_WINDOW:
        return Finding("b", claim, NOT_MEASURED, f"{len(accuracy)} step(s) with train_accuracy in metrics.jsonl; "
                                                 f"the rule needs {SATURATION_WINDOW}", rule)
    step = saturation_step(accuracy)
    if step is None:
        best_step, best = max(moving_average(accuracy), key=lambda point: point[1])
        return Finding("b", claim, NOT_REPRODUCED, f"training accuracy never saturated in {len(accuracy)} steps: "
                                                   f"its highest moving average is {best:.1%} (step {best_step})", rule)
    after = [e for e in run.evaluations if e.step >= step]
    if len(after) < 2:
        return Finding("b", claim, NOT_MEASURED, f"training accuracy saturated at step {step}, but {len(after)} "
                                                 f"held-out evaluation(s) are at or after it; two are needed", rule)
    test = _compare(after[0], after[-1])
    return Finding("b", claim, _verdict(test), f"training accuracy saturated at step {step}; held-out "
                                               + _change(test, after[0], after[-1]), rule)


def cross_category_finding(run: RunLog | None, pi1_category: str | None, why: str | None = None) -> Finding:
    """(c) the held-out categories other than π1's improve too."""
    claim = "cross-category generalization: the categories other than π1's improve too"
    rule = ("pooled lenient accuracy over the categories other than π1's, last evaluation against the first, "
            "one-sided p < 0.05")
    why = why or _missing(run, "one-shot") or (None if pi1_category else "π1's category is not in demo.json")
    if why:
        return Finding("c", claim, NOT_MEASURED, why, rule)
    first, last = run.evaluations[0], run.evaluations[-1]
    others = [c for c in _common(first, last) if c != pi1_category]
    if not others:
        return Finding("c", claim, NOT_MEASURED, f"no held-out category other than {pi1_category}", rule)
    test = _compare(first, last, benchmarks=others)
    each = []
    for name in _common(first, last):
        before, after = first.scores[name].proportion("lenient"), last.scores[name].proportion("lenient")
        each.append(f"{name}{' (π1)' if name == pi1_category else ''} {before.rate:.1%} → {after.rate:.1%} "
                    f"({100 * (after.rate - before.rate):+.1f} points, n={after.n})")
    evidence = f"π1 is {pi1_category}; the others pooled: {_change(test, first, last)}. Each: {'; '.join(each)}"
    return Finding("c", claim, _verdict(test), evidence, rule)


def _finals(one_shot: DemoRun | None, other: DemoRun | None, name: str) -> ProportionTest | str:
    """Test of the one-shot run's final pooled lenient accuracy against ``other``'s, or why it cannot be made."""
    why = _missing(one_shot, "one-shot") or _missing(other, name, need=1)
    if why:
        return why
    mine, theirs = one_shot.log.evaluations[-1], other.log.evaluations[-1]
    names = _common(theirs, mine)
    return _compare(theirs, mine, benchmarks=names) if names else f"{name} and one-shot share no held-out benchmark"


def format_finding(one_shot: DemoRun | None, format_only: DemoRun | None) -> Finding:
    """(d) the one-shot run ends above the format-only control: more than format was learned."""
    claim = "more than format: 1-shot RLVR beats the format-only reward"
    rule = ("1-shot final pooled lenient accuracy against format-only's final, one-sided p < 0.05 (else the gain "
            "is format)")
    test = _finals(one_shot, format_only, "format-only")
    if isinstance(test, str):
        return Finding("d", claim, NOT_MEASURED, test, rule)
    verdict = _verdict(test)
    tail = "" if verdict == REPRODUCED else "; within what the format reward alone gives: the gain is format"
    return Finding("d", claim, verdict, _versus(test, "format-only final", "1-shot final") + tail, rule)


def full_set_finding(one_shot: DemoRun | None, full_set: DemoRun | None) -> Finding:
    """(e) the one-shot run ends within noise of (or above) the full-set run."""
    claim = "1-shot RLVR is on par with full-set RLVR"
    rule = ("final pooled lenient accuracy, 1-shot against full-set, two-sided p ≥ 0.05 (within noise) or 1-shot "
            "higher")
    test = _finals(one_shot, full_set, "full-set")
    if isinstance(test, str):
        return Finding("e", claim, NOT_MEASURED, test, rule)
    if test.p_two_sided >= ALPHA:
        verdict, state = REPRODUCED, "within noise"
    elif test.points > 0:
        verdict, state = REPRODUCED, "1-shot higher"
    else:
        verdict, state = NOT_REPRODUCED, "full-set higher, beyond noise"
    return Finding("e", claim, verdict, f"{_versus(test, 'full-set final', '1-shot final', 'two')}: {state}", rule)


def control_finding(one_shot: DemoRun | None, control: DemoRun | None, role: str) -> Finding:
    """(f) the one-shot run ends above a control without a correctness signal; says whether the control gained."""
    claim = f"control {role}: the gain needs the outcome reward (1-shot beats {role})"
    rule = (f"1-shot final pooled lenient accuracy against {role}'s final, one-sided p < 0.05; the control gained "
            f"when its final beats its step 0, one-sided p < 0.05")
    test = _finals(one_shot, control, role)
    if isinstance(test, str):
        return Finding("f", claim, NOT_MEASURED, test, rule)
    evidence = _versus(test, f"{role} final", "1-shot final")
    if len(control.log.evaluations) < 2:
        evidence += f"; {role}'s own gain is not measured (one held-out evaluation)"
    else:
        first, last = control.log.evaluations[0], control.log.evaluations[-1]
        own = _compare(first, last)
        gained = "gained" if own.p_greater < ALPHA else "did not gain"
        evidence += f"; {role} itself {gained}: {_change(own, first, last)}"
    return Finding("f", claim, _verdict(test), evidence, rule)


def reflection_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(g) self-reflection words become more frequent in held-out responses."""
    claim = f"self-reflection: {label}'s held-out responses reflect more often"
    rule = ("pooled reflection rate (rethink / recheck / recalculate), last evaluation against the first, "
            "one-sided p < 0.05")
    why = why or _missing(run, label)
    if why:
        return Finding("g", claim, NOT_MEASURED, why, rule)
    first, last = run.evaluations[0], run.evaluations[-1]
    test = _compare(first, last, "reflection_rate")
    if test is None:
        return Finding("g", claim, NOT_MEASURED, "eval.jsonl has no reflection_rate", rule)
    return Finding("g", claim, _verdict(test), _change(test, first, last), rule)


def run_findings(run: RunLog, label: str = "training") -> list[Finding]:
    """The findings a train run can measure on its own: (a), (b), (g)."""
    return [lift_finding(run, label), saturation_finding(run, label), reflection_finding(run, label)]


def findings(demo: Demo) -> list[Finding]:
    """The findings (a)–(g) of a demo, in order (one (f) per control)."""
    one_shot = demo.run("one-shot")
    why = _missing(one_shot, "one-shot")
    log, label = (one_shot.log, one_shot.label) if one_shot else (None, "1-shot RLVR")
    return [lift_finding(log, label, why), saturation_finding(log, label, why),
            cross_category_finding(log, demo.pi1_category, why),
            format_finding(one_shot, demo.run("format-only")), full_set_finding(one_shot, demo.run("full-set")),
            *(control_finding(one_shot, demo.run(role), role) for role in ("random-reward", "entropy-only")),
            reflection_finding(log, label, why)]


# --- report.md --------------------------------------------------------------------------------------

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


def _take(evaluation: Evaluation, key: str, name: str | None, pooled_over: Sequence[str]) -> Proportion | None:
    """Benchmark ``name``'s share of ``key`` (None: pooled over ``pooled_over``); None where not logged."""
    if name is None:
        return evaluation.pooled(key, pooled_over)
    return evaluation.scores[name].proportion(key) if name in evaluation.scores else None


def before_after_table(first: Evaluation, last: Evaluation) -> list[str]:
    """Per benchmark, then pooled: strict, lenient (with intervals), boxed and reflection, first → last."""
    common, rows = _common(first, last), []
    for name in [*dict.fromkeys([*first.scores, *last.scores]), None]:
        take = {key: (_take(first, key, name, common), _take(last, key, name, common)) for key in RATE_KEYS}
        before, after = take["lenient"]
        sizes = dict.fromkeys(p.n for p in (before, after) if p is not None)
        test = two_proportion_test(before, after) if before and after else None
        rows.append(["all (pooled)" if name is None else name, " → ".join(map(str, sizes)),
                     *map(_rate, take["strict"]), _rate(before), _rate(after),
                     f"{test.points:+.1f} points (one-sided {_p(test.p_greater)})" if test else "–",
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
                     f"{raw['pass@k'][k]:.1%} (k={k})" if k in (raw.get("pass@k") or {}) else "–",
                     f"{raw['maj@k']:.1%}" if "maj@k" in raw else "–", _short(score.proportion("boxed_rate")),
                     f"{raw['truncated_rate']:.1%}" if "truncated_rate" in raw else "–",
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
    rows = []
    for name in [*categories, None]:
        shares = [None if e is None else _take(e, "lenient", name, [c for c in categories if c in e.scores])
                  for e in (base, mine, theirs)]
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
    why = _missing(one_shot, "one-shot", need=1)
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
    returns the path of report.md. Bad input raises CommandError before anything is written."""
    kind = detect_kind(run_dir)
    out = Path(run_dir if out_dir is None else out_dir)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out}: is a file; give a folder")
    loaded = {"demo": load_demo, "train": load_run, "eval": load_eval_run}[kind](run_dir)
    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    render = {"demo": demo_report, "train": train_report, "eval": eval_report}[kind]
    lines = render(loaded, plots_dir)
    while lines and lines[-1] == "":
        lines.pop()
    target = out / "report.md"
    write_atomically(str(target), [line + "\n" for line in lines])
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
