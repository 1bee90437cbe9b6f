"""The paper's claims measured on synthetic logs: each verdict follows the data, and each 'not measured' says why.

A demo's claims are decided over its seeds (``demo_findings``): the tables below hold per-seed counts and the
verdict the rule gives, so a seed that goes the other way flips a verdict that the pooled test alone would pass.
"""

from pathlib import Path

import pytest

from oneshot_rlvr import demo_findings
from oneshot_rlvr.demo_findings import change_finding, control_finding, format_finding, full_set_finding, rule_of
from oneshot_rlvr.findings import (
    NOT_MEASURED,
    NOT_REPRODUCED,
    REPRODUCED,
    RULES,
    cross_category_finding,
    moving_average,
    run_findings,
    saturation_finding,
    saturation_step,
)
from oneshot_rlvr.metrics import Proportion, two_proportion_test
from oneshot_rlvr.runlogs import DemoRun, Evaluation, RunLog, Score, load_demo, load_run
from run_folders import (RISING, held_out, one_shot_evaluations, read_manifest, rewrite_run, write_demo, write_manifest,
                         write_run)

N = 1000


def in_memory_run(role, seed, evaluations, train=(), name=None):
    """A DemoRun whose log holds ``evaluations`` [(step, correct of N)] of one benchmark and ``train`` accuracies."""
    name = name or f"{role}-s{seed}"
    scores = [Evaluation(step, {"x": Score(n=N, strict=0.0, lenient=correct / N, reflection_rate=correct / N)})
              for step, correct in evaluations]
    steps = tuple({"step": step, "train_accuracy": value} for step, value in enumerate(train, start=1))
    return DemoRun(name, name, role, "outcome", None, RunLog(Path(name), {}, steps, tuple(scores), {}), None, seed)


def one_shot_runs(counts, train=RISING):
    """One one-shot run per seed 0, 1, …: held-out ``before`` at step 0 and ``after`` at step 20."""
    return [in_memory_run("one-shot", seed, [(0, before), (20, after)], train) for seed, (before, after) in
            enumerate(counts)]


def pooled_p(counts):
    before, after = (Proportion(sum(c[i] for c in counts), N * len(counts)) for i in (0, 1))
    return two_proportion_test(before, after).p_greater


def test_saturation_rule():
    assert saturation_step(list(enumerate(RISING, start=1))) == 10
    assert saturation_step([(s, 1.0) for s in range(1, 5)]) is None  # fewer than 5 steps: no full window
    assert saturation_step([(s, 0.89) for s in range(1, 30)]) is None
    assert moving_average([(1, 0.0), (2, 0.5), (3, 1.0)], window=2) == [(2, 0.25), (3, 0.75)]


def test_every_claim_has_a_rule_stated_before_the_runs():
    assert sorted(RULES) == list("abcdefg")
    assert all(isinstance(rule, str) and "seed" in rule for rule in RULES.values())


# --- the rules, as tables ---------------------------------------------------------------------------------

@pytest.mark.parametrize("counts, verdict, signs", [
    ([(300, 360), (300, 350), (300, 370)], REPRODUCED, "positive on 3 of 3 seeds"),
    ([(300, 400), (300, 400), (300, 290)], NOT_REPRODUCED, "positive on 2 of 3 seeds (not on seed 2)"),
    ([(300, 400), (300, 300), (300, 400)], NOT_REPRODUCED, "positive on 2 of 3 seeds (not on seed 1)"),
    ([(300, 305), (300, 310), (300, 302)], NOT_REPRODUCED, "positive on 3 of 3 seeds"),  # pooled p ≥ 0.05
    ([(300, 350)], REPRODUCED, "positive on 1 of 1 seeds"),
])
def test_a_lift_needs_the_pooled_test_and_every_seed(counts, verdict, signs):
    finding = change_finding("a", "lift", RULES["a"], one_shot_runs(counts))
    assert finding.verdict == verdict and signs in finding.evidence
    assert (pooled_p(counts) < 0.05) == (verdict == REPRODUCED or "not on" in signs)  # the rows test what they say
    before, after = counts[0]
    points = 100 * (after - before) / N
    assert finding.evidence.startswith(f"seed 0: {before / N:.1%} → {after / N:.1%} ({points:+.1f})")
    assert f"pooled over {len(counts)} seed" in finding.evidence


@pytest.mark.parametrize("pairs, verdict, signs", [
    ([(310, 450), (290, 430), (330, 470)], REPRODUCED, "1-shot higher on 3 of 3 seeds"),
    ([(310, 450), (290, 430), (480, 470)], NOT_REPRODUCED, "1-shot higher on 2 of 3 seeds (not on seed 2)"),
    ([(440, 450), (430, 440), (460, 470)], NOT_REPRODUCED, "1-shot higher on 3 of 3 seeds"),  # pooled p ≥ 0.05
])
def test_d_more_than_format_is_paired_by_seed(pairs, verdict, signs):
    one_shot = [in_memory_run("one-shot", seed, [(0, 300), (20, mine)]) for seed, (_, mine) in enumerate(pairs)]
    format_only = [in_memory_run("format-only", seed, [(0, 300), (20, theirs)]) for seed, (theirs, _) in
                   enumerate(pairs)]
    finding = format_finding(RULES["d"], one_shot, format_only)
    assert finding.verdict == verdict and signs in finding.evidence
    theirs, mine = pairs[0]
    assert finding.evidence.startswith(f"seed 0: 1-shot {mine / N:.1%} vs format-only {theirs / N:.1%} "
                                       f"({100 * (mine - theirs) / N:+.1f})")
    assert finding.evidence.endswith("the gain is format") == (verdict == NOT_REPRODUCED)


@pytest.mark.parametrize("full, verdict, state", [
    (460, REPRODUCED, "within noise"), (300, REPRODUCED, "1-shot higher"),
    (600, NOT_REPRODUCED, "full-set higher, beyond noise"),
])
def test_e_on_par_pools_the_seeds_against_the_full_set_run(full, verdict, state):
    one_shot = one_shot_runs([(300, 450), (300, 430), (300, 470)])
    finding = full_set_finding(RULES["e"], one_shot, [in_memory_run("full-set", 0, [(0, 300), (20, full)])])
    assert (finding.verdict, finding.evidence.split(": ")[-1]) == (verdict, state)
    assert "1-shot finals: seed 0 45.0%, seed 1 43.0%, seed 2 47.0%" in finding.evidence
    assert f"pooled: 1-shot 1350/3000 = 45.0% (3 seeds) vs full-set {full}/1000" in finding.evidence


def test_b_is_decided_over_the_seeds_that_saturated_and_lists_the_others():
    def run(seed, train, after):
        return in_memory_run("one-shot", seed, [(0, 300), (10, 350), (20, after)], train)

    found = demo_findings.saturation_finding("b", RULES["b"], [run(0, RISING, 420), run(1, [0.5] * 20, 420),
                                                                run(2, RISING, 410)])
    assert found.verdict == REPRODUCED
    assert found.evidence.startswith("seed 0: saturated at step 10, held-out step 10 35.0% → step 20 42.0% (+7.0)")
    assert "positive on 2 of 2 seeds" in found.evidence
    assert ("never saturated: seed 1: training accuracy never saturated in 20 steps: its highest moving average "
            "is 50.0% (step 5)") in found.evidence

    found = demo_findings.saturation_finding("b", RULES["b"], [run(0, RISING, 500), run(1, RISING, 340)])
    assert found.verdict == NOT_REPRODUCED and "positive on 1 of 2 seeds (not on seed 1)" in found.evidence
    assert pooled_p([(350, 500), (350, 340)]) < 0.05  # the pooled test alone would have passed

    found = demo_findings.saturation_finding("b", RULES["b"], [run(0, [0.5] * 20, 420), run(1, [0.4] * 20, 420)])
    assert found.verdict == NOT_REPRODUCED and found.evidence.startswith("no seed saturated; seed 0: training")

    late = [0.0] * 15 + [1.0] * 5  # saturates at step 20: one evaluation at or after it
    found = demo_findings.saturation_finding("b", RULES["b"], [run(0, late, 420), run(1, [0.5] * 20, 420)])
    assert found.verdict == NOT_MEASURED
    assert found.evidence.startswith("seed 0: training accuracy saturated at step 20, but 1 held-out evaluation(s)")


def test_f_a_control_run_once_is_paired_on_its_seed_and_says_whether_it_gained():
    one_shot = one_shot_runs([(300, 450), (300, 430), (300, 470)])
    finding = control_finding(RULES["f"], one_shot, [in_memory_run("entropy-only", 0, [(0, 300), (20, 400)])],
                              "entropy-only")
    assert finding.verdict == REPRODUCED
    assert "1-shot higher on 1 of 1 seeds; not measured: no entropy-only run on seed 1, seed 2" in finding.evidence
    assert "entropy-only itself gained: pooled over 1 seed: 300/1000 = 30.0% → 400/1000 = 40.0%" in finding.evidence
    controls = [in_memory_run("random-reward", seed, [(0, 300), (20, 300 + seed)]) for seed in range(3)]
    finding = control_finding(RULES["f"], one_shot, controls, "random-reward")
    assert "random-reward itself did not gain" in finding.evidence and "positive on 2 of 3 seeds" in finding.evidence


def test_a_seed_whose_run_is_missing_is_named_not_guessed():
    runs = one_shot_runs([(300, 400), (300, 400)])
    runs.append(DemoRun("pi1-s2", "pi1-s2", "one-shot", "outcome", None, None, "skipped: budget", 2))
    finding = change_finding("a", "lift", RULES["a"], runs)
    assert finding.verdict == REPRODUCED and "positive on 2 of 2 seeds" in finding.evidence
    assert finding.evidence.endswith("not measured: seed 2: pi1-s2: skipped: budget")
    assert change_finding("a", "lift", RULES["a"], runs[2:]).evidence == "seed 2: pi1-s2: skipped: budget"
    assert change_finding("a", "lift", RULES["a"], []).verdict == NOT_MEASURED


# --- demos on disk ----------------------------------------------------------------------------------------

def verdicts(demo):
    return {(f.key, f.claim.split(":")[0] if f.key == "f" else f.key): f.verdict for f in demo_findings.findings(demo)}


def test_demo_verdicts_flip_in_the_opposite_scenario(tmp_path):
    assert verdicts(load_demo(write_demo(tmp_path / "yes"))) == {
        ("a", "a"): REPRODUCED, ("b", "b"): REPRODUCED, ("c", "c"): REPRODUCED, ("d", "d"): REPRODUCED,
        ("e", "e"): REPRODUCED, ("f", "control random-reward"): REPRODUCED, ("f", "control entropy-only"): NOT_MEASURED,
        ("f", "control random-example"): REPRODUCED, ("g", "g"): REPRODUCED}
    demo = load_demo(write_demo(tmp_path / "no", generalizes=False))
    assert verdicts(demo) == {
        ("a", "a"): NOT_REPRODUCED, ("b", "b"): NOT_REPRODUCED, ("c", "c"): NOT_REPRODUCED,
        ("d", "d"): NOT_REPRODUCED, ("e", "e"): NOT_REPRODUCED, ("f", "control random-reward"): NOT_REPRODUCED,
        ("f", "control entropy-only"): NOT_MEASURED, ("f", "control random-example"): NOT_REPRODUCED,
        ("g", "g"): NOT_REPRODUCED}
    evidence = {f.key: f.evidence for f in demo_findings.findings(demo)}
    assert "the gain is format" in evidence["d"]
    assert "full-set higher, beyond noise" in evidence["e"]


def test_one_seed_that_falls_flips_the_lift_although_the_pooled_test_passes(tmp_path):
    root = write_demo(tmp_path)
    evaluations = one_shot_evaluations()
    evaluations[-1] = held_out(20, 0.28)
    rewrite_run(root / "pi1-s1", RISING, evaluations)
    a = demo_findings.findings(load_demo(root))[0]
    assert a.verdict == NOT_REPRODUCED
    assert "seed 1: 30.0% → 28.0% (-2.0)" in a.evidence and "positive on 2 of 3 seeds (not on seed 1)" in a.evidence
    assert "one-sided p < 0.0001" in a.evidence  # the pooled test: 30.0% → 40.0% over 3000 responses


def test_a_seed_that_never_saturates_is_listed_in_b(tmp_path):
    root = write_demo(tmp_path)
    rewrite_run(root / "pi1-s1", [0.5] * 20, one_shot_evaluations(-0.02))
    b = demo_findings.findings(load_demo(root))[1]
    assert b.verdict == REPRODUCED and "positive on 2 of 2 seeds" in b.evidence
    assert "never saturated: seed 1: training accuracy never saturated in 20 steps" in b.evidence


def test_the_rule_printed_is_the_one_demo_json_states(tmp_path):
    root = write_demo(tmp_path)
    assert rule_of(load_demo(root), "a") == "rule a as demo.json states it"  # its closing period dropped
    manifest = read_manifest(root)
    del manifest["rules"]
    write_manifest(root, manifest)
    assert [f.rule for f in demo_findings.findings(load_demo(root))][:2] == [RULES["a"], RULES["b"]]


# --- a single train run -----------------------------------------------------------------------------------

def test_saturation_finding_says_why_it_cannot_decide(tmp_path):
    rising = [held_out(0, 0.30), held_out(10, 0.35), held_out(20, 0.45)]
    write_run(tmp_path / "never", [0.5] * 20, rising)
    never = load_run(tmp_path / "never")
    finding = saturation_finding(never, "run")
    assert finding.verdict == NOT_REPRODUCED
    assert finding.evidence == "training accuracy never saturated in 20 steps: its highest moving average is 50.0% (step 5)"

    late = [0.0] * 15 + [1.0] * 5  # saturates at step 20, the last evaluation's step: one evaluation after it
    write_run(tmp_path / "late", late, rising)
    finding = saturation_finding(load_run(tmp_path / "late"), "run")
    assert (finding.verdict, finding.evidence) == (NOT_MEASURED, "training accuracy saturated at step 20, but 1 "
                                                   "held-out evaluation(s) are at or after it; two are needed")

    write_run(tmp_path / "short", [1.0] * 4, rising)
    finding = saturation_finding(load_run(tmp_path / "short"), "run")
    assert finding.verdict == NOT_MEASURED and finding.evidence.startswith("4 step(s) with train_accuracy")


def test_cross_category_needs_another_category(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, {"mul": 0.3}), held_out(20, {"mul": 0.6})])
    finding = cross_category_finding(load_run(tmp_path / "run"), "mul")
    assert (finding.verdict, finding.evidence) == (NOT_MEASURED, "no held-out category other than mul")
    assert cross_category_finding(load_run(tmp_path / "run"), None).evidence == "π1's category is not in demo.json"


def test_evaluations_that_share_no_benchmark_are_not_compared(tmp_path):
    """A run resumed with other eval benchmarks: its comparisons are not measured, and say why."""
    write_run(tmp_path / "run", RISING, [held_out(0, {"mul": 0.3}), held_out(10, {"mul": 0.4}),
                                         held_out(20, {"word": 0.6})])
    run = load_run(tmp_path / "run")
    found = {f.key: (f.verdict, f.evidence) for f in [*run_findings(run, "run"), cross_category_finding(run, "mul")]}
    disjoint = (NOT_MEASURED, "step 0 and step 20 share no benchmark")
    assert found == {"a": disjoint, "c": disjoint, "g": disjoint, "b": (
        NOT_MEASURED, "training accuracy saturated at step 10, but step 10 and step 20 share no benchmark")}
    write_run(tmp_path / "control", RISING, [held_out(0, {"word": 0.3}), held_out(20, {"mul": 0.3})])
    log = load_run(tmp_path / "control")  # as both runs: the finals share mul; the control's own two do not
    runs = [DemoRun(role, role, role, "outcome", None, log, None) for role in ("one-shot", "random-reward")]
    finding = control_finding(RULES["f"], runs[:1], runs[1:], "random-reward")
    assert finding.evidence.endswith("random-reward's own gain is not measured (step 0 and step 20 share no benchmark)")
