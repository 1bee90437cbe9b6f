"""The paper's claims measured on synthetic logs: each verdict follows the data, and each 'not measured' says why."""

from oneshot_rlvr.findings import (
    NOT_MEASURED,
    NOT_REPRODUCED,
    REPRODUCED,
    control_finding,
    cross_category_finding,
    findings,
    full_set_finding,
    moving_average,
    run_findings,
    saturation_finding,
    saturation_step,
)
from oneshot_rlvr.runlogs import DemoRun, load_demo, load_run
from run_folders import RISING, held_out, write_demo, write_run


def test_saturation_rule():
    assert saturation_step(list(enumerate(RISING, start=1))) == 10
    assert saturation_step([(s, 1.0) for s in range(1, 5)]) is None  # fewer than 5 steps: no full window
    assert saturation_step([(s, 0.89) for s in range(1, 30)]) is None
    assert moving_average([(1, 0.0), (2, 0.5), (3, 1.0)], window=2) == [(2, 0.25), (3, 0.75)]


def test_demo_verdicts_flip_in_the_opposite_scenario(tmp_path):
    found = [(f.key, f.claim.split(":")[0] if f.key == "f" else f.key, f.verdict)
             for f in findings(load_demo(write_demo(tmp_path, generalizes=False)))]
    assert {(key, claim): verdict for key, claim, verdict in found} == {
        ("a", "a"): "not reproduced", ("b", "b"): "not reproduced", ("c", "c"): "not reproduced",
        ("d", "d"): "not reproduced", ("e", "e"): "not reproduced", ("f", "control random-reward"): "not reproduced",
        ("f", "control entropy-only"): "not measured", ("g", "g"): "not reproduced"}
    evidence = {f.key: f.evidence for f in findings(load_demo(tmp_path))}
    assert "the gain is format" in evidence["d"]
    assert "full-set higher, beyond noise" in evidence["e"]


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


def test_one_shot_above_full_set_beyond_noise_counts_as_on_par(tmp_path):
    write_run(tmp_path / "pi1", RISING, [held_out(0, 0.30), held_out(20, 0.60)])
    write_run(tmp_path / "full", RISING, [held_out(0, 0.30), held_out(20, 0.40)])
    runs = [DemoRun(name, name, role, "outcome", None, load_run(tmp_path / name), None)
            for name, role in (("pi1", "one-shot"), ("full", "full-set"))]
    finding = full_set_finding(*runs)
    assert finding.verdict == REPRODUCED and finding.evidence.endswith(": 1-shot higher")
    finding = full_set_finding(runs[1], runs[0])  # the other way round: full-set higher, beyond noise
    assert finding.verdict == NOT_REPRODUCED and finding.evidence.endswith("full-set higher, beyond noise")


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
    finding = control_finding(*runs, "random-reward")
    assert finding.evidence.endswith("random-reward's own gain is not measured (step 0 and step 20 share no benchmark)")
