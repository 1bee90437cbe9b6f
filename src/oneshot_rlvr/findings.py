"""The paper's claims, each measured on the runs' logs and stated as reproduced / not reproduced / not measured
(why), with the rule it used. ``report.py`` prints them; every number comes from ``runlogs.py``'s records.

Comparisons are two-proportion z-tests (``metrics.two_proportion_test``) of pooled accuracies, α = 0.05.

Saturation (the paper's "post-saturation generalization"): the first step at which the mean training
accuracy of the last 5 logged steps is at least 90%.

(a) the one-shot run's held-out accuracy rises from the first evaluation (step 0) to the last;
(b) it keeps rising after training accuracy saturates; (c) also on the categories other than π1's;
(d) more than the format-only control gives; (e) within noise of the full-set run (or above it);
(f) more than the random-reward and entropy-only controls give; (g) self-reflection becomes more frequent.
A train run alone gets (a), (b) and (g); an eval run alone measures no change. Runs a demo skipped (or
whose folder is empty), and two evaluations that share no benchmark (a run resumed with other eval
benchmarks), are reported as not measured, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .metrics import ProportionTest, two_proportion_test
from .runlogs import Demo, DemoRun, Evaluation, RunLog

ALPHA = 0.05
SATURATION_ACCURACY, SATURATION_WINDOW = 0.9, 5
REPRODUCED, NOT_REPRODUCED, NOT_MEASURED = "reproduced", "not reproduced", "not measured"


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


def _compare(before: Evaluation, after: Evaluation, key: str = "lenient",
             benchmarks: Sequence[str] | None = None) -> ProportionTest | None:
    names = common_benchmarks(before, after) if benchmarks is None else benchmarks
    a, b = before.pooled(key, names), after.pooled(key, names)
    return None if a is None or b is None else two_proportion_test(a, b)


def _disjoint(before: Evaluation, after: Evaluation) -> str | None:
    """Why two evaluations of one run cannot be compared (they share no benchmark), or None."""
    return None if common_benchmarks(before, after) else f"step {before.step} and step {after.step} share no benchmark"


def _verdict(test: ProportionTest) -> str:
    return REPRODUCED if test.p_greater < ALPHA else NOT_REPRODUCED


def _change(test: ProportionTest, before: Evaluation, after: Evaluation) -> str:
    """A change within one run, first evaluation to a later one."""
    return (f"step {before.step}: {test.before} → step {after.step}: {test.after} ({test.points:+.1f} points; "
            f"z = {test.z:.2f}, one-sided {format_p(test.p_greater)})")


def _versus(test: ProportionTest, before: str, after: str, sided: str = "one") -> str:
    """A comparison between two runs' final evaluations."""
    p = test.p_greater if sided == "one" else test.p_two_sided
    return (f"{after} {test.after} vs {before} {test.before} ({test.points:+.1f} points; z = {test.z:.2f}, "
            f"{sided}-sided {format_p(p)})")


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


def lift_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(a) held-out lenient accuracy, last evaluation against the first."""
    claim = f"{label} lifts held-out accuracy"
    rule = "pooled lenient accuracy, last held-out evaluation against the first (step 0), one-sided p < 0.05"
    why = why or missing_evaluations(run, label)
    if why:
        return Finding("a", claim, NOT_MEASURED, why, rule)
    first, last = run.evaluations[0], run.evaluations[-1]
    if why := _disjoint(first, last):
        return Finding("a", claim, NOT_MEASURED, why, rule)
    test = _compare(first, last)
    return Finding("a", claim, _verdict(test), _change(test, first, last), rule)


def saturation_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(b) held-out accuracy still rises after training accuracy has saturated."""
    claim = f"post-saturation generalization: {label}'s held-out accuracy rises after training accuracy saturates"
    rule = (f"saturation = first step whose {SATURATION_WINDOW}-step moving average of training accuracy is ≥ "
            f"{SATURATION_ACCURACY:.0%}; pooled lenient accuracy, last held-out evaluation against the first at or "
            f"after it, one-sided p < 0.05")
    why = why or missing_evaluations(run, label, need=0)
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
    if why := _disjoint(after[0], after[-1]):
        return Finding("b", claim, NOT_MEASURED, f"training accuracy saturated at step {step}, but {why}", rule)
    test = _compare(after[0], after[-1])
    return Finding("b", claim, _verdict(test), f"training accuracy saturated at step {step}; held-out "
                                               + _change(test, after[0], after[-1]), rule)


def cross_category_finding(run: RunLog | None, pi1_category: str | None, why: str | None = None) -> Finding:
    """(c) the held-out categories other than π1's improve too."""
    claim = "cross-category generalization: the categories other than π1's improve too"
    rule = ("pooled lenient accuracy over the categories other than π1's, last evaluation against the first, "
            "one-sided p < 0.05")
    why = why or missing_evaluations(run, "one-shot") or (None if pi1_category else "π1's category is not in demo.json")
    if why:
        return Finding("c", claim, NOT_MEASURED, why, rule)
    first, last = run.evaluations[0], run.evaluations[-1]
    if why := _disjoint(first, last):
        return Finding("c", claim, NOT_MEASURED, why, rule)
    others = [c for c in common_benchmarks(first, last) if c != pi1_category]
    if not others:
        return Finding("c", claim, NOT_MEASURED, f"no held-out category other than {pi1_category}", rule)
    test = _compare(first, last, benchmarks=others)
    each = []
    for name in common_benchmarks(first, last):
        before, after = first.scores[name].proportion("lenient"), last.scores[name].proportion("lenient")
        each.append(f"{name}{' (π1)' if name == pi1_category else ''} {before.rate:.1%} → {after.rate:.1%} "
                    f"({100 * (after.rate - before.rate):+.1f} points, n={after.n})")
    evidence = f"π1 is {pi1_category}; the others pooled: {_change(test, first, last)}. Each: {'; '.join(each)}"
    return Finding("c", claim, _verdict(test), evidence, rule)


def _finals(one_shot: DemoRun | None, other: DemoRun | None, name: str) -> ProportionTest | str:
    """Test of the one-shot run's final pooled lenient accuracy against ``other``'s, or why it cannot be made."""
    why = missing_evaluations(one_shot, "one-shot") or missing_evaluations(other, name, need=1)
    if why:
        return why
    mine, theirs = one_shot.log.evaluations[-1], other.log.evaluations[-1]
    names = common_benchmarks(theirs, mine)
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
        if why := _disjoint(first, last):
            evidence += f"; {role}'s own gain is not measured ({why})"
        else:
            own = _compare(first, last)
            gained = "gained" if own.p_greater < ALPHA else "did not gain"
            evidence += f"; {role} itself {gained}: {_change(own, first, last)}"
    return Finding("f", claim, _verdict(test), evidence, rule)


def reflection_finding(run: RunLog | None, label: str, why: str | None = None) -> Finding:
    """(g) self-reflection words become more frequent in held-out responses."""
    claim = f"self-reflection: {label}'s held-out responses reflect more often"
    rule = ("pooled reflection rate (rethink / recheck / recalculate), last evaluation against the first, "
            "one-sided p < 0.05")
    why = why or missing_evaluations(run, label)
    if why:
        return Finding("g", claim, NOT_MEASURED, why, rule)
    first, last = run.evaluations[0], run.evaluations[-1]
    if why := _disjoint(first, last):
        return Finding("g", claim, NOT_MEASURED, why, rule)
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
    why = missing_evaluations(one_shot, "one-shot")
    log, label = (one_shot.log, one_shot.label) if one_shot else (None, "1-shot RLVR")
    return [lift_finding(log, label, why), saturation_finding(log, label, why),
            cross_category_finding(log, demo.pi1_category, why),
            format_finding(one_shot, demo.run("format-only")), full_set_finding(one_shot, demo.run("full-set")),
            *(control_finding(one_shot, demo.run(role), role) for role in ("random-reward", "entropy-only")),
            reflection_finding(log, label, why)]
