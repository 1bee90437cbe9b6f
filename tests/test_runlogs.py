"""Reading run folders back: counts from rates, resumed and killed runs, and damaged files as one clear error."""

import json

import pytest

from oneshot_rlvr.cliutil import CommandError
from oneshot_rlvr.runlogs import Score, detect_kind, load_demo, load_eval_run, load_run
from run_folders import RISING, held_out, read_manifest, write_demo, write_manifest, write_old_demo, write_run

BIG = 10**400  # a JSON integer no float holds


def eval_line(step=0, **fields):
    """An eval.jsonl line with one benchmark, x; ``fields`` replace or add to its score."""
    return json.dumps({"step": step, "benchmarks": {"x": {"n": 5, "strict": 0.25, "lenient": 0.5, **fields}}}) + "\n"


def test_counts_are_rounded_from_rates_over_problems_times_samples():
    assert Score(n=20, k=10, strict=0.0, lenient=0.285).proportion("lenient").successes == 57  # 56.99999999999999
    assert Score(n=20, strict=0.0, lenient=0.5).proportion("reflection_rate") is None  # not logged


def test_a_train_run_reads_back_in_step_order(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30), held_out(20, 0.45)])
    run = load_run(tmp_path / "run")
    assert [s["step"] for s in run.steps] == list(range(1, 21))
    assert run.series("train_accuracy")[7] == (8, 1.0)
    assert [e.step for e in run.evaluations] == [0, 20]
    assert run.evaluations[1].pooled("lenient").successes == 450 and run.evaluations[1].pooled().n == 1000
    assert run.config["examples"] == "mul-17" and run.history["mul-17"] == tuple(RISING)


def test_steps_that_logged_no_finite_number_are_left_out_of_a_series(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30)])
    lines = [f'{{"step": {step}, "train_accuracy": {value}}}\n' for step, value in
             ((1, "0.5"), (2, "NaN"), (3, "Infinity"), (4, BIG), (5, '"high"'))]
    (tmp_path / "run" / "metrics.jsonl").write_text("".join(lines))
    assert load_run(tmp_path / "run").series("train_accuracy") == [(1, 0.5)]


def test_a_resumed_run_repeating_a_step_keeps_the_later_line(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30), held_out(10, 0.35), held_out(10, 0.40)])
    evaluations = load_run(tmp_path / "run").evaluations
    assert [e.step for e in evaluations] == [0, 10]
    assert evaluations[1].pooled().rate == pytest.approx(0.40)


def test_a_line_cut_by_a_killed_run_is_not_a_record_yet(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30)])
    with open(tmp_path / "run" / "metrics.jsonl", "a") as stream:
        stream.write('{"step": 21, "train_acc')  # no newline: the writer died mid-line
    assert len(load_run(tmp_path / "run").steps) == 20
    with open(tmp_path / "run" / "metrics.jsonl", "a") as stream:
        stream.write('\n{"step": 22}\n')  # the cut line, now followed by more: damaged
    with pytest.raises(CommandError, match=r"metrics.jsonl:21: not valid JSON"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize("name, content, message", [
    ("metrics.jsonl", '{"step": -1}\n', "metrics.jsonl:1: step must be a whole number"),
    ("metrics.jsonl", '{"loss": 1.0}\n', "metrics.jsonl:1: missing step; not a log of `oneshot-rlvr train`"),
    ("eval.jsonl", '{"step": 0, "benchmarks": {}}\n', "eval.jsonl:1: 'benchmarks' must name at least one"),
    ("eval.jsonl", eval_line(strict=2), "benchmark x strict: must be a rate within 0..1"),
    ("eval.jsonl", eval_line(step=BIG), "eval.jsonl:1: step must be a whole number from 0 to 2^63 − 1"),
    ("eval.jsonl", eval_line(n=BIG), "benchmark x n: must be a whole number from 1 to 2^63 − 1"),
    ("eval.jsonl", eval_line(mean_length=BIG), "benchmark x mean_length: must be a number ≥ 0"),
    ("eval.jsonl", eval_line(lenient=None), "benchmark x: missing lenient (n, strict and lenient are required)"),
    ("eval.jsonl", '{"step": 0, "benchmarks": {"x": null}}\n', "benchmark x: must be an object with n, strict"),
    ("history.json", '{"mul-17": "high"}', "history.json: not {example id: [accuracies within 0..1]}"),
    ("history.json", f'{{"mul-17": [{BIG}]}}', "history.json: not {example id: [accuracies within 0..1]}"),
    ("history.json", '{"mul-17": [NaN]}', "history.json: not {example id: [accuracies within 0..1]}"),
    ("config.yaml", "model: [unclosed\n", "config.yaml:2: not valid YAML"),
    ("config.yaml", 'model: "\\ud800"\n', "config.yaml field model: text is not valid Unicode (a lone surrogate)"),
])
def test_a_damaged_file_is_one_clear_error(tmp_path, name, content, message):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30)])
    (tmp_path / "run" / name).write_text(content)
    with pytest.raises(CommandError) as raised:
        load_run(tmp_path / "run")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_an_old_demo_names_what_is_missing(tmp_path):
    root = write_old_demo(tmp_path, skip_full_set=True)
    demo = load_demo(root)
    assert demo.format == 1 and demo.seeds == () and demo.gates is None and demo.rules == {} and demo.plan == {}
    assert demo.pi1_category == "mul" and demo.run("one-shot").log is not None and demo.run("one-shot").seed is None
    assert demo.run("full-set").missing == "full-set/ holds no metrics.jsonl or eval.jsonl"
    assert demo.run("entropy-only").missing == "skipped: budget" and demo.run("entropy-only").log is None
    manifest = json.loads((root / "demo.json").read_text())
    manifest["skipped"].append({"name": "not-listed", "why": "budget"})  # skipped before it was ever listed
    (root / "demo.json").write_text(json.dumps(manifest))
    assert load_demo(root).run("not-listed").missing == "skipped: budget"


def test_a_demo_reads_each_role_once_per_seed(tmp_path):
    root = write_demo(tmp_path, skip_full_set=True)
    manifest = read_manifest(root)
    manifest["runs"].reverse()  # the manifest's order does not matter: runs_of sorts by seed
    write_manifest(root, manifest)
    demo = load_demo(root)
    assert demo.format == 2 and demo.seeds == (0, 1, 2) and demo.world == "latent-skill"
    assert [(r.name, r.seed) for r in demo.runs_of("one-shot")] == [("pi1-s0", 0), ("pi1-s1", 1), ("pi1-s2", 2)]
    assert demo.run("one-shot").name == "pi1-s0" and demo.roles()[0] == "one-shot"
    assert demo.run("full-set").missing == "pool/ holds no metrics.jsonl or eval.jsonl"
    assert demo.gates["all"]["n"] == 150 and demo.plan["extras"] == ["entropy-only", "random-example"]
    assert demo.rules["a"] == "rule a as demo.json states it." and demo.base["source"] == "shipped"
    assert demo.selection["by_gap"]["var_rank"] == 2
    entropy = demo.runs_of("entropy-only")  # an extra the plan names, run once with the first seed, never listed
    assert [(r.name, r.seed, r.log, r.missing) for r in entropy] == [
        ("entropy-only-s0", 0, None, "planned, not in demo.json's runs")]


def test_a_demo_stopped_early_names_the_seeds_it_did_not_run(tmp_path):
    root = write_demo(tmp_path)
    manifest = read_manifest(root)
    manifest["runs"] = [r for r in manifest["runs"] if r["seed"] != 2]
    manifest["complete"] = False
    write_manifest(root, manifest)
    runs = load_demo(root).runs_of("one-shot")
    assert [(r.name, r.seed, r.log is None) for r in runs] == [("pi1-s0", 0, False), ("pi1-s1", 1, False),
                                                               ("one-shot-s2", 2, True)]
    assert runs[2].missing == "planned, not in demo.json's runs (the demo did not finish)"


def test_the_kind_of_a_folder(tmp_path):
    write_demo(tmp_path / "demo")
    assert [detect_kind(tmp_path / "demo"), detect_kind(tmp_path / "demo" / "pi1-s0")] == ["demo", "train"]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "summary.json").write_text(json.dumps({"model": "m", "benchmarks": {
        "gsm8k": {"n": 4, "k": 2, "strict": 0.25, "lenient": 0.5}}}))
    assert detect_kind(tmp_path / "eval") == "eval"
    assert load_eval_run(tmp_path / "eval").evaluation.scores["gsm8k"].proportion("lenient").n == 8
    with pytest.raises(CommandError, match="no such folder"):
        detect_kind(tmp_path / "absent")
    with pytest.raises(CommandError, match="is a file, not a folder"):
        detect_kind(tmp_path / "eval" / "summary.json")


def write_eval(folder, fields=None, **summary):
    folder.mkdir(parents=True, exist_ok=True)
    raw = {"n": 4, "k": 2, "strict": 0.25, "lenient": 0.5, **(fields or {})}
    (folder / "summary.json").write_text(json.dumps({"model": "m", "benchmarks": {"gsm8k": raw}, **summary}))
    return folder


@pytest.mark.parametrize("fields, summary, message", [
    ({"maj@k": "x"}, {}, "benchmark gsm8k maj@k: must be a rate within 0..1"),
    ({"truncated_rate": 2}, {}, "benchmark gsm8k truncated_rate: must be a rate within 0..1"),
    ({"pass@k": {"1": "x"}}, {}, "benchmark gsm8k pass@k: must be {k: rate within 0..1}"),
    ({"pass@k": [0.5]}, {}, "benchmark gsm8k pass@k: must be {k: rate within 0..1}"),
    ({}, {"paper6_mean": "high"}, "paper6_mean: must be a rate within 0..1"),
    ({}, {"config": [1]}, "config: must be an object"),
    ({"n": float("inf")}, {}, "benchmark gsm8k n: must be a whole number"),
    ({"n": BIG}, {}, "benchmark gsm8k n: must be a whole number"),
    ({"k": float("inf")}, {}, "benchmark gsm8k k: must be a whole number"),
    ({"k": None}, {}, "benchmark gsm8k k: must be a whole number"),
    ({"k": 0}, {}, "benchmark gsm8k k: must be a whole number from 1"),
    ({"mean_length": "x"}, {}, "benchmark gsm8k mean_length: must be a number ≥ 0"),
    ({"mean_length": BIG}, {}, "benchmark gsm8k mean_length: must be a number ≥ 0"),
    ({"lenient": None}, {}, "benchmark gsm8k: missing lenient"),
    ({}, {"model": "\ud800"}, "field model: text is not valid Unicode"),
])
def test_a_summary_with_a_field_of_the_wrong_shape_is_one_clear_error(tmp_path, fields, summary, message):
    with pytest.raises(CommandError, match=message.replace("{", r"\{").replace("}", r"\}").replace("..", r"\.\.")):
        load_eval_run(write_eval(tmp_path, fields, **summary))
    write_eval(tmp_path, {"maj@k": None, "truncated_rate": None})  # null: not measured, which is allowed
    assert load_eval_run(tmp_path).summary["benchmarks"]["gsm8k"]["maj@k"] is None


@pytest.mark.parametrize("field, value, message", [
    ("seconds", {"pool": "x"}, "seconds: must be {stage: seconds ≥ 0}"),
    ("seconds", {"pool": BIG}, "seconds: must be {stage: seconds ≥ 0}"),
    ("selection", "x", "selection: must be an object"),
    ("selection", {"pi1": "x"}, "selection.pi1: must be an object"), ("base", "x", "base: must be an object"),
    ("categories", 5, "categories: must be a list of names"), ("skipped", "budget", "skipped: must be a list"),
])
def test_a_demo_manifest_with_a_field_of_the_wrong_shape_is_one_clear_error(tmp_path, field, value, message):
    root = write_demo(tmp_path)
    manifest = json.loads((root / "demo.json").read_text())
    manifest[field] = value
    (root / "demo.json").write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_demo(root)


def test_a_config_that_is_not_utf8_is_one_clear_error(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30)])
    (tmp_path / "run" / "config.yaml").write_bytes(b"model: \xff\n")
    with pytest.raises(CommandError, match="config.yaml: cannot read it as UTF-8 text"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize("change, message", [
    ({"format": 3}, "demo.json format: 3 is newer than this oneshot-rlvr reads (1 or 2)"),
    ({"format": "2"}, "demo.json format: must be a whole number (1 or 2)"),
    ({"world": 5}, "demo.json world: must be text"),
    ({"estimate_seconds": -1}, "demo.json estimate_seconds: must be a number of seconds ≥ 0"),
    ({"complete": "yes"}, "demo.json complete: must be true or false"),
    ({"categories": ["mul", 2]}, "demo.json categories: must be a list of names"),
    ({"gates": []}, "demo.json gates: must be an object"),
    ({"gates.all.greedy": 2}, "demo.json gates.all.greedy: must be a rate within 0..1 or null"),
    ({"gates.all.pass@8": "x"}, "demo.json gates.all.pass@8: must be a rate within 0..1 or null"),
    ({"gates.families.mul.n": -1}, "demo.json gates.families.mul.n: must be a whole number from 0"),
    ({"gates.all.forced_minus_greedy": BIG}, "demo.json gates.all.forced_minus_greedy: must be a difference of rates"),
    ({"gates.targets": [{"met": "yes"}]}, "demo.json gates.targets[0].met: must be true or false"),
    ({"gates.targets": [{"values": {"mul": "x"}}]}, "demo.json gates.targets[0].values: must be {family: a number"),
    ({"plan.seeds": [0, 0]}, "demo.json plan.seeds: must be a list of distinct whole numbers ≥ 0"),
    ({"plan.seeds": "0"}, "demo.json plan.seeds: must be a list of distinct whole numbers ≥ 0"),
    ({"plan.steps": 1.5}, "demo.json plan.steps: must be a whole number from 0"),
    ({"plan.roles": ["one-shot", None]}, "demo.json plan.roles: must be a list of role names"),
    ({"rules": {"a": 1}}, "demo.json rules: must be {claim: its rule as text}"),
    ({"selection.top": [{"history": [2]}]}, "demo.json selection.top[0].history: must be a list of accuracies"),
    ({"selection.top": ["x"]}, "demo.json selection.top[0]: must be an object"),
    ({"selection.pi1.with_skill": "x"}, "demo.json selection.pi1.with_skill: must be a rate within 0..1 or null"),
    ({"selection.by_gap.var_rank": 0}, "demo.json selection.by_gap.var_rank: must be a whole number from 1"),
    ({"selection.pool_examples": {"mul-17": {"skill_share": 9}}},
     "demo.json selection.pool_examples.mul-17.skill_share: must be a rate"),
    ({"base.sha256": {"model.safetensors": 1}}, "demo.json base.sha256: must be {file: hex digest}"),
    ({"base.parameters": "many"}, "demo.json base.parameters: must be a whole number"),
    ({"runs.1.seed": None}, "demo.json runs[1].seed: must be a whole number ≥ 0"),
    ({"runs.1.seed": "0"}, "demo.json runs[1].seed: must be a whole number ≥ 0"),
    ({"runs.2.seed": 0, "runs.2.role": "one-shot"}, "demo.json runs[2]: a second one-shot run with seed 0 (pi1-s0 is"),
])
def test_a_format_2_manifest_with_a_field_of_the_wrong_shape_is_one_clear_error(tmp_path, change, message):
    root = write_demo(tmp_path)
    manifest = read_manifest(root)
    for path, value in change.items():  # "gates.all.greedy": a field inside the manifest
        *parents, key = path.split(".")
        target = manifest
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[key] = value
    write_manifest(root, manifest)
    with pytest.raises(CommandError) as raised:
        load_demo(root)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).endswith("the file is damaged") or "update oneshot-rlvr" in str(raised.value)
