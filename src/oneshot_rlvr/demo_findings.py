"""The paper's claims (a)–(g) on a demo, decided over its seeds with rules stated before the runs.

Each role ran once per seed (format 2; a format-1 demo is one seed, shown as "seed –"). A claim is measured
on every seed (per-seed values), then decided by a two-proportion z-test on the counts summed over the seeds
(correct answers and n added up on each side) together with the sign on every seed: a pooled test alone could
be carried by one seed. The rule each finding prints is the one demo.json states (written before any run),
else ``findings.RULES``. Seeds whose run is missing, or cannot be compared, are named with why, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .findings import (ALPHA, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED, RULES, Change, Finding, common_benchmarks,
                       first_to_last, format_p, missing_evaluations, post_saturation)
from .metrics import Proportion, ProportionTest, two_proportion_test
from .runlogs import Demo, DemoRun, Evaluation, RunLog

CONTROLS = ("random-reward", "entropy-only")  # always reported; "random-example" too when the demo ran it
CONTROL_CLAIMS = {"random-example": "control random-example: the choice of π1 matters (1-shot on π1 beats 1-shot "
                                    "on a random pool example)"}


def seed_name(seed: int | None) -> str:
    return "seed –" if seed is None else f"seed {seed}"


def seed_count(count: int) -> str:
    return f"{count} seed" if count == 1 else f"{count} seeds"


def _on_seed(seed: int | None, text: str) -> str:
    """``text`` about one seed's run; a format-1 run (no seed) needs no prefix."""
    return text if seed is None else f"{seed_name(seed)}: {text}"


def _summed(parts: Sequence[Proportion]) -> Proportion:
    return Proportion(sum(p.successes for p in parts), sum(p.n for p in parts))


@dataclass(frozen=True)
class OverSeeds:
    """One test per seed (``before`` → ``after``) and the test on the counts summed over those seeds."""

    seeds: tuple[int | None, ...]
    tests: tuple[ProportionTest, ...]

    @property
    def pooled(self) -> ProportionTest:
        return two_proportion_test(_summed([t.before for t in self.tests]), _summed([t.after for t in self.tests]))

    def rises(self) -> list[bool]:
        """Per seed: ``after`` strictly above ``before`` (compared as counts, exactly)."""
        return [t.after.successes * t.before.n > t.before.successes * t.after.n for t in self.tests]

    def verdict(self) -> str:
        return REPRODUCED if self.pooled.p_greater < ALPHA and all(self.rises()) else NOT_REPRODUCED

    def signs(self, word: str = "positive") -> str:
        rises = self.rises()
        against = [seed_name(s) for s, rise in zip(self.seeds, rises) if not rise]
        return f"{word} on {sum(rises)} of {len(rises)} seeds" + (f" (not on {', '.join(against)})" if against else "")

    def summary(self, before: str = "", after: str = "", sided: str = "one") -> str:
        """The pooled test: ``after`` against ``before`` (labels of two runs' finals, or none for a change)."""
        test = self.pooled
        p = test.p_greater if sided == "one" else test.p_two_sided
        shares = f"{after} {test.after} vs {before} {test.before}" if after else f"{test.before} → {test.after}"
        return (f"pooled over {seed_count(len(self.tests))}: {shares} ({test.points:+.1f} points; z = {test.z:.2f}, "
                f"{sided}-sided {format_p(p)})")


Paired = tuple[OverSeeds, list[str], list[str]]  # the tests, the per-seed lines, the seeds left out and why


def _evidence(lines: Sequence[str], summary: str, signs: str, whys: Sequence[str]) -> str:
    """Per-seed values, the pooled test, the sign count, then the seeds left out and why."""
    return "; ".join([*lines, summary, signs, *([f"not measured: {'; '.join(whys)}"] if whys else [])])


def _rise(seed: int | None, change: Change) -> str:
    test = change.test
    return f"{seed_name(seed)}: {test.before.rate:.1%} → {test.after.rate:.1%} ({test.points:+.1f})"


def _changes(runs: Sequence[DemoRun], measure: Callable[[RunLog], Change | str]
             ) -> tuple[list[tuple[int | None, Change]], list[str]]:
    """Per run with two held-out evaluations: (seed, its Change); the others' whys."""
    measured, whys = [], []
    for run in runs:
        change = missing_evaluations(run, run.role) or measure(run.log)
        if isinstance(change, str):
            whys.append(_on_seed(run.seed, change))
        else:
            measured.append((run.seed, change))
    return measured, whys


def change_finding(key: str, claim: str, rule: str, runs: Sequence[DemoRun], rate: str = "lenient",
                   leave_out: str | None = None) -> Finding:
    """(a), (c), (g): per seed, the first held-out evaluation against the last; decided over the seeds."""
    if not runs:
        return Finding(key, claim, NOT_MEASURED, "no one-shot run in demo.json", rule)
    measured, whys = _changes(runs, lambda log: first_to_last(log, rate, leave_out))
    if not measured:
        return Finding(key, claim, NOT_MEASURED, "; ".join(whys), rule)
    over = OverSeeds(tuple(s for s, _ in measured), tuple(c.test for _, c in measured))
    lines = [_rise(seed, change) for seed, change in measured]
    evidence = _evidence(lines, over.summary(), over.signs(), whys)
    if leave_out is not None:
        evidence = f"π1 is {leave_out}, the other categories pooled: {evidence}; {_each_category(measured, leave_out)}"
    return Finding(key, claim, over.verdict(), evidence, rule)


def _each_category(measured: Sequence[tuple[int | None, Change]], pi1_category: str) -> str:
    """Every category's lenient accuracy, counts summed over the seeds, first evaluation → last."""
    names = [n for n in common_benchmarks(measured[0][1].before, measured[0][1].after)
             if all(n in c.before.scores and n in c.after.scores for _, c in measured)]
    each = []
    for name in names:
        before = _summed([c.before.scores[name].proportion("lenient") for _, c in measured])
        after = _summed([c.after.scores[name].proportion("lenient") for _, c in measured])
        each.append(f"{name}{' (π1)' if name == pi1_category else ''} {before.rate:.1%} → {after.rate:.1%} "
                    f"({100 * (after.rate - before.rate):+.1f} points, n={after.n})")
    return f"each category, summed over the seeds: {', '.join(each)}"


def saturation_finding(claim: str, rule: str, runs: Sequence[DemoRun]) -> Finding:
    """(b): decided over the seeds that saturated with two held-out evaluations at or after it."""
    if not runs:
        return Finding("b", claim, NOT_MEASURED, "no one-shot run in demo.json", rule)
    measured, never, whys, saturated = [], [], [], False
    for run in runs:
        why = missing_evaluations(run, run.role, need=0)
        found = None if why else post_saturation(run.log)
        saturated |= found is not None and found.step is not None
        if found is not None and found.change is not None:
            measured.append((run.seed, found))
        elif found is not None and found.never:
            never.append(_on_seed(run.seed, found.why))
        else:
            whys.append(_on_seed(run.seed, why or found.why))
    if not measured:
        if never and not saturated:
            return Finding("b", claim, NOT_REPRODUCED, "; ".join(
                [*([] if len(never) == 1 else ["no seed saturated"]), *never, *whys]), rule)
        return Finding("b", claim, NOT_MEASURED, "; ".join([*whys, *never]), rule)
    over = OverSeeds(tuple(s for s, _ in measured), tuple(f.change.test for _, f in measured))
    lines = [f"{seed_name(seed)}: saturated at step {f.step}, held-out step {f.change.before.step} "
             f"{f.change.test.before.rate:.1%} → step {f.change.after.step} {f.change.test.after.rate:.1%} "
             f"({f.change.test.points:+.1f})" for seed, f in measured]
    if never:
        whys = [*whys, f"never saturated: {'; '.join(never)}"]
    return Finding("b", claim, over.verdict(), _evidence(lines, over.summary(), over.signs(), whys), rule)


def _finals(runs: Sequence[DemoRun]) -> tuple[dict[int | None, Evaluation], dict[int | None, str]]:
    """Each run's final held-out evaluation by seed; why, by seed, for the runs without one."""
    finals, whys = {}, {}
    for run in runs:
        why = missing_evaluations(run, run.role, need=1)
        if why:
            whys[run.seed] = _on_seed(run.seed, why)
        else:
            finals[run.seed] = run.log.evaluations[-1]
    return finals, whys


def _finals_line(what: str, finals: dict[int | None, Evaluation], names: Sequence[str]) -> str:
    return f"{what}: " + ", ".join(f"{seed_name(seed)} {final.pooled('lenient', names).rate:.1%}"
                                   for seed, final in finals.items())


def paired_finals(one_shot: Sequence[DemoRun], other: Sequence[DemoRun], name: str) -> Paired | str:
    """Per seed both roles ran: 1-shot's final against ``name``'s (the benchmarks both scored); per-seed lines
    and the whys of seeds left out; or why nothing can be paired."""
    if not other:
        return f"no {name} run in demo.json"
    mine, my_whys = _finals(one_shot)
    theirs, their_whys = _finals(other)
    seeds, tests, lines, whys = [], [], [], [*my_whys.values(), *their_whys.values()]
    for seed in [s for s in theirs if s in mine]:
        names = common_benchmarks(theirs[seed], mine[seed])
        if not names:
            whys.append(_on_seed(seed, f"{name} and one-shot share no held-out benchmark"))
            continue
        test = two_proportion_test(theirs[seed].pooled("lenient", names), mine[seed].pooled("lenient", names))
        seeds.append(seed)
        tests.append(test)
        lines.append(f"{seed_name(seed)}: 1-shot {test.after.rate:.1%} vs {name} {test.before.rate:.1%} "
                     f"({test.points:+.1f})")
    unpaired = [seed_name(s) for s in mine if s not in theirs and s not in their_whys]  # by design: extras
    if unpaired:
        whys.append(f"no {name} run on {', '.join(unpaired)}")
    if not tests:
        return "; ".join(whys) or f"no seed has both a one-shot and a {name} run"
    return OverSeeds(tuple(seeds), tuple(tests)), lines, whys


def format_finding(rule: str, one_shot: Sequence[DemoRun], format_only: Sequence[DemoRun]) -> Finding:
    """(d): 1-shot ends above the format-only control on every seed: more than format was learned."""
    claim = "more than format: 1-shot RLVR beats the format-only reward"
    paired = paired_finals(one_shot, format_only, "format-only")
    if isinstance(paired, str):
        return Finding("d", claim, NOT_MEASURED, paired, rule)
    over, lines, whys = paired
    evidence = _evidence(lines, over.summary("format-only", "1-shot"), over.signs("1-shot higher"), whys)
    verdict = over.verdict()
    tail = "" if verdict == REPRODUCED else "; within what the format reward alone gives: the gain is format"
    return Finding("d", claim, verdict, evidence + tail, rule)


def control_finding(rule: str, one_shot: Sequence[DemoRun], control: Sequence[DemoRun], role: str) -> Finding:
    """(f): 1-shot ends above a control on every seed both ran; and whether the control itself gained."""
    claim = CONTROL_CLAIMS.get(role, f"control {role}: the gain needs the outcome reward (1-shot beats {role})")
    paired = paired_finals(one_shot, control, role)
    if isinstance(paired, str):
        return Finding("f", claim, NOT_MEASURED, paired, rule)
    over, lines, whys = paired
    evidence = _evidence(lines, over.summary(role, "1-shot"), over.signs("1-shot higher"), whys)
    measured, own_whys = _changes(control, first_to_last)
    if not measured:
        return Finding("f", claim, over.verdict(), f"{evidence}; {role}'s own gain is not measured "
                                                    f"({'; '.join(own_whys)})", rule)
    own = OverSeeds(tuple(s for s, _ in measured), tuple(c.test for _, c in measured))
    gained = "gained" if own.pooled.p_greater < ALPHA else "did not gain"
    return Finding("f", claim, over.verdict(), f"{evidence}; {role} itself {gained}: {own.summary()}, "
                                                f"{own.signs()}", rule)


def full_set_finding(rule: str, one_shot: Sequence[DemoRun], full_set: Sequence[DemoRun]) -> Finding:
    """(e): 1-shot's finals, summed over its seeds, within noise of (or above) the full-set run's."""
    claim = "1-shot RLVR is on par with full-set RLVR"
    mine, my_whys = _finals(one_shot)
    theirs, their_whys = _finals(full_set)
    why = (None if mine else "; ".join(my_whys.values()) or "no one-shot run in demo.json") or (
        None if theirs else "; ".join(their_whys.values()) or "no full-set run in demo.json")
    if why:
        return Finding("e", claim, NOT_MEASURED, why, rule)
    evaluations = [*mine.values(), *theirs.values()]
    names = [n for n in evaluations[0].scores if all(n in e.scores for e in evaluations)]
    if not names:
        return Finding("e", claim, NOT_MEASURED, "full-set and one-shot share no held-out benchmark", rule)
    test = two_proportion_test(_summed([e.pooled("lenient", names) for e in theirs.values()]),
                               _summed([e.pooled("lenient", names) for e in mine.values()]))
    if test.p_two_sided >= ALPHA:
        verdict, state = REPRODUCED, "within noise"
    elif test.points > 0:
        verdict, state = REPRODUCED, "1-shot higher"
    else:
        verdict, state = NOT_REPRODUCED, "full-set higher, beyond noise"
    pooled = (f"pooled: 1-shot {test.after} ({seed_count(len(mine))}) vs full-set {test.before} ({test.points:+.1f} "
              f"points; z = {test.z:.2f}, two-sided {format_p(test.p_two_sided)}): {state}")
    whys = [*my_whys.values(), *their_whys.values()]
    return Finding("e", claim, verdict, "; ".join([_finals_line("1-shot finals", mine, names),
                                                  _finals_line("full-set final", theirs, names), pooled,
                                                  *([f"not measured: {'; '.join(whys)}"] if whys else [])]), rule)


def rule_of(demo: Demo, key: str) -> str:
    """The rule demo.json states for claim ``key`` (written before the runs), else ``RULES``'s."""
    return (demo.rules.get(key) or RULES[key]).strip().rstrip(".")


def findings(demo: Demo) -> list[Finding]:
    """The findings (a)–(g) of a demo, in order (one (f) per control), each decided over the seeds."""
    one_shot = demo.runs_of("one-shot")
    labels = {r.label for r in one_shot if r.log is not None}  # the demo's label; a run it never listed has none
    label = labels.pop() if len(labels) == 1 else "1-shot RLVR"
    controls = [*CONTROLS, *(["random-example"] if demo.runs_of("random-example") else [])]
    return [
        change_finding("a", f"{label} lifts held-out accuracy", rule_of(demo, "a"), one_shot),
        saturation_finding(f"post-saturation generalization: {label}'s held-out accuracy rises after training "
                           f"accuracy saturates", rule_of(demo, "b"), one_shot),
        _cross_category(demo, one_shot),
        format_finding(rule_of(demo, "d"), one_shot, demo.runs_of("format-only")),
        full_set_finding(rule_of(demo, "e"), one_shot, demo.runs_of("full-set")),
        *(control_finding(rule_of(demo, "f"), one_shot, demo.runs_of(role), role) for role in controls),
        change_finding("g", f"self-reflection: {label}'s held-out responses reflect more often", rule_of(demo, "g"),
                       one_shot, rate="reflection_rate"),
    ]


def _cross_category(demo: Demo, one_shot: Sequence[DemoRun]) -> Finding:
    claim = "cross-category generalization: the categories other than π1's improve too"
    if one_shot and not demo.pi1_category:
        return Finding("c", claim, NOT_MEASURED, "π1's category is not in demo.json", rule_of(demo, "c"))
    return change_finding("c", claim, rule_of(demo, "c"), one_shot, leave_out=demo.pi1_category)
