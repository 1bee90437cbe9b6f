"""The paper's claims, each measured on the runs' logs and stated as reproduced / not reproduced / not measured
(why), with the rule it used. ``report.py`` prints them; every number comes from ``runlogs.py``'s records.

Comparisons are two-proportion z-tests (``metrics.two_proportion_test``) of pooled accuracies, α = 0.05.
Saturation (the paper's "post-saturation generalization"): the first step at which the mean training
accuracy of the last 5 logged steps is at least 90%.

(a) the one-shot run's held-out accuracy rises from the first evaluation (step 0) to the last;
(b) it keeps rising after training accuracy saturates; (c) also on the categories other than π1's;
(d) more than the format-only control gives; (e) within noise of the full-set run (or above it);
(f) more than the random-reward and entropy-only controls (and 1-shot on a random example) give;
(g) self-reflection (in the toy world: the latent skill, "Recheck") becomes more frequent.

A train run alone gets (a), (b) and (g) (``run_findings``); a demo's are decided over its seeds by ``demo_findings.py``
with the rules in ``RULES``, written into demo.json before any run. An eval run alone measures no change. Runs a demo
skipped (or whose folder is empty) and evaluations that share no benchmark are not measured, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .metrics import ProportionTest, two_proportion_test
from .runlogs import DemoRun, Evaluation, RunLog

ALPHA = 0.05
SATURATION_ACCURACY, SATURATION_WINDOW = 0.9, 5
REPRODUCED, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "not reproduced", "not measured"

_SUMMED = "the test on correct answers and n summed over"
RULES = {  # each claim's decision over a demo's seeds, stated before the runs (the demo writes it to demo.json)
    "a": f"per seed, 1-shot's pooled lenient held-out accuracy at its last evaluation against its first (step 0); "
         f"reproduced when {_SUMMED} the seeds gives one-sided p < {ALPHA} and the change is positive on every seed",
    "b": f"saturation = the first step whose {SATURATION_WINDOW}-step moving average of training accuracy is ≥ "
         f"{SATURATION_ACCURACY:.0%}; per seed that saturated and has two held-out evaluations at or after it, pooled "
         f"lenient accuracy at the last of them against the first; reproduced when {_SUMMED} those seeds gives "
         f"one-sided p < {ALPHA} and the change is positive on each of them; not reproduced when no seed saturated",
    "c": f"as (a), over the held-out categories other than π1's: reproduced when {_SUMMED} the seeds gives one-sided "
         f"p < {ALPHA} and the change is positive on every seed",
    "d": f"1-shot's final pooled lenient accuracy against format-only's, paired by seed (the seeds both ran); "
         f"reproduced when {_SUMMED} those seeds gives one-sided p < {ALPHA} and 1-shot is higher on every one of "
         f"them; otherwise the gain is format",
    "e": f"1-shot's final pooled lenient accuracy, counts summed over its seeds, against the full-set run's final "
         f"(summed over its seeds); reproduced when two-sided p ≥ {ALPHA} (within noise) or 1-shot is higher",
    "f": f"per control, as (d) with the control in place of format-only; the control itself gained when its final "
         f"beats its step 0 by {_SUMMED} its seeds, one-sided p < {ALPHA}",
    "g": f"as (a), on the reflection rate of held-out responses (rethink / recheck / recalculate): reproduced when "
         f"{_SUMMED} the seeds gives one-sided p < {ALPHA} and the rate rises on every seed",
}


def format_p(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def moving_average(points: Sequence[tuple[int, float]], window: int = SATURATION_WINDOW) -> list[tuple[int, float]]:
    """Trailing mean over ``window`` logged steps, at each step that has a full window."""
    return [(points[end][0], sum(v for _, v in points[end - window + 1 : end + 1]) / window)
            for end in range(window - 1, len(points))]


def saturation_step(points: Sequence[tuple[int, float]]) -> int | None:
    """First step whose moving average of training accuracy reaches ``SATURATION_ACCURACY``; None if none."""
    return next((step for step, value in moving_average(points) if value >= SATURATION_ACCURACY), None)


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


def common_benchmarks(first: Evaluation, last: Evaluation) -> list[str]:
    """The benchmarks both evaluations scored, in ``first``'s order."""
    return [name for name in first.scores if name in last.scores]


@dataclass(frozen=True)
class Change:
    """One run's held-out share at an earlier evaluation against a later one, and its test."""

    before: Evaluation
    after: Evaluation
    test: ProportionTest

    def describe(self) -> str:
        test = self.test
        return (f"step {self.before.step}: {test.before} → step {self.after.step}: {test.after} ({test.points:+.1f} "
                f"points; z = {test.z:.2f}, one-sided {format_p(test.p_greater)})")


def compare_evaluations(before: Evaluation, after: Evaluation, key: str = "lenient",
                        leave_out: str | None = None) -> Change | str:
    """``key`` pooled over the benchmarks both evaluations share (but ``leave_out``), or why it cannot be."""
    names = common_benchmarks(before, after)
    if not names:
        return f"step {before.step} and step {after.step} share no benchmark"
    names = [name for name in names if name != leave_out]
    if not names:
        return f"no held-out category other than {leave_out}"
    shares = before.pooled(key, names), after.pooled(key, names)
    if None in shares:
        return f"eval.jsonl has no {key}"
    return Change(before, after, two_proportion_test(*shares))


def first_to_last(run: RunLog, key: str = "lenient", leave_out: str | None = None) -> Change | str:
    """The run's first held-out evaluation against its last (the run has at least two)."""
    return compare_evaluations(run.evaluations[0], run.evaluations[-1], key, leave_out)


@dataclass(frozen=True)
class Saturation:
    """Where a run's training accuracy saturated and what its held-out accuracy did after; ``why`` when no
    change was measured (``never``: training accuracy never saturated, a measured no)."""

    step: int | None
    change: Change | None
    why: str | None
    never: bool = False


def post_saturation(run: RunLog) -> Saturation:
    accuracy = run.series("train_accuracy")
    if len(accuracy) < SATURATION_WINDOW:
        return Saturation(None, None, f"{len(accuracy)} step(s) with train_accuracy in metrics.jsonl; the rule "
                                      f"needs {SATURATION_WINDOW}")
    step = saturation_step(accuracy)
    if step is None:
        best_step, best = max(moving_average(accuracy), key=lambda point: point[1])
        return Saturation(None, None, f"training accuracy never saturated in {len(accuracy)} steps: its highest "
                                      f"moving average is {best:.1%} (step {best_step})", never=True)
    after = [e for e in run.evaluations if e.step >= step]
    if len(after) < 2:
        return Saturation(step, None, f"training accuracy saturated at step {step}, but {len(after)} held-out "
                                      f"evaluation(s) are at or after it; two are needed")
    change = compare_evaluations(after[0], after[-1])
    if isinstance(change, str):
        return Saturation(step, None, f"training accuracy saturated at step {step}, but {change}")
    return Saturation(step, change, None)


def verdict_of(test: ProportionTest) -> str:
    return REPRODUCED if test.p_greater < ALPHA else NOT_REPRODUCED


def missing_evaluations(run: DemoRun | RunLog | None, name: str, need: int = 2) -> str | None:
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


# --- a single train run ---------------------------------------------------------------------------------

def _from_change(key: str, claim: str, change: Change | str, rule: str, prefix: str = "") -> Finding:
    if isinstance(change, str):
        return Finding(key, claim, NOT_MEASURED, change, rule)
    return Finding(key, claim, verdict_of(change.test), prefix + change.describe(), rule)


def lift_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(a) held-out lenient accuracy, last evaluation against the first."""
    claim = f"{label} lifts held-out accuracy"
    rule = "pooled lenient accuracy, last held-out evaluation against the first (step 0), one-sided p < 0.05"
    why = why or missing_evaluations(run, label)
    return _from_change("a", claim, why or first_to_last(run), rule)


def saturation_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(b) held-out accuracy still rises after training accuracy has saturated."""
    claim = f"post-saturation generalization: {label}'s held-out accuracy rises after training accuracy saturates"
    rule = (f"saturation = first step whose {SATURATION_WINDOW}-step moving average of training accuracy is ≥ "
            f"{SATURATION_ACCURACY:.0%}; pooled lenient accuracy, last held-out evaluation against the first at or "
            f"after it, one-sided p < 0.05")
    why = why or missing_evaluations(run, label, need=0)
    if why:
        return Finding("b", claim, NOT_MEASURED, why, rule)
    found = post_saturation(run)
    if found.change is None:
        return Finding("b", claim, NOT_REPRODUCED if found.never else NOT_MEASURED, found.why, rule)
    return _from_change("b", claim, found.change, rule, f"training accuracy saturated at step {found.step}; held-out ")


def cross_category_finding(run: RunLog | None, pi1_category: str | None, why: str | None = None) -> Finding:
    """(c) the held-out categories other than π1's improve too."""
    claim = "cross-category generalization: the categories other than π1's improve too"
    rule = ("pooled lenient accuracy over the categories other than π1's, last evaluation against the first, "
            "one-sided p < 0.05")
    why = why or missing_evaluations(run, "one-shot") or (None if pi1_category else "π1's category is not in demo.json")
    change = why or first_to_last(run, leave_out=pi1_category)
    if isinstance(change, str):
        return Finding("c", claim, NOT_MEASURED, change, rule)
    first, last = change.before, change.after
    each = []
    for name in common_benchmarks(first, last):
        before, after = first.scores[name].proportion("lenient"), last.scores[name].proportion("lenient")
        each.append(f"{name}{' (π1)' if name == pi1_category else ''} {before.rate:.1%} → {after.rate:.1%} "
                    f"({100 * (after.rate - before.rate):+.1f} points, n={after.n})")
    evidence = f"π1 is {pi1_category}; the others pooled: {change.describe()}. Each: {'; '.join(each)}"
    return Finding("c", claim, verdict_of(change.test), evidence, rule)


def reflection_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(g) self-reflection words become more frequent in held-out responses."""
    claim = f"self-reflection: {label}'s held-out responses reflect more often"
    rule = ("pooled reflection rate (rethink / recheck / recalculate), last evaluation against the first, "
            "one-sided p < 0.05")
    why = why or missing_evaluations(run, label)
    return _from_change("g", claim, why or first_to_last(run, "reflection_rate"), rule)


def run_findings(run: RunLog, label: str = "training") -> list[Finding]:
    """The findings a train run can measure on its own: (a), (b), (g)."""
    return [lift_finding(run, label), saturation_finding(run, label), reflection_finding(run, label)]
