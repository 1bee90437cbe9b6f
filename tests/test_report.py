"""The report stage on synthetic run folders: its numbers come from the logs, its verdicts follow the data.

A demo is format 2 (each role once per seed: ``run_folders.write_demo``); one test keeps a format-1 demo."""

import json
import re
import shutil

import pytest

pytest.importorskip("matplotlib")

from oneshot_rlvr import metrics  # noqa: E402
from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.findings import RULES  # noqa: E402
from oneshot_rlvr.report import build_report  # noqa: E402
from run_folders import (CATEGORIES, RISING, SEEDS, held_out, read_manifest, write_demo, write_manifest,  # noqa: E402
                         write_old_demo, write_run)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEMO_PLOTS = ["training_curve.png", "runs_heldout.png", "skill_share.png", "categories.png"]
DEMO_SECTIONS = ["## What was run", "## Base model gates (before any RL)", "## Selection", "## Findings", "## Plots",
                 "## Per role over seeds", "## Base → 1-shot → full-set, per category (lenient)",
                 "## All runs, final held-out evaluation (pooled)"]
FINDING = re.compile(r"^- \*\*\((\w)\) (.+?) — (reproduced|not reproduced|not measured)(?: \((.*)\))?\.\*\*(.*)$")


def parse_findings(text):
    found = [FINDING.match(line) for line in text.splitlines() if line.startswith("- **(")]
    assert all(found), text
    return [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in found]


def verdicts(found):
    return {(key, claim.split(":")[0] if key == "f" else key): verdict for key, claim, verdict, _ in found}


def finding_lines(text):
    return {key: line for line in text.splitlines() if (key := (FINDING.match(line) or [None, None])[1])}


def table_rows(text, heading):
    """The rows of the table after ``heading``, as lists of cells."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def log_proportion(folder, step, name, key="lenient"):
    """correct/n of ``key`` for ``name`` (a category, or None: pooled) at ``step``, read back from eval.jsonl."""
    for line in (folder / "eval.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["step"] == step:
            chosen = record["benchmarks"] if name is None else {name: record["benchmarks"][name]}
            correct = sum(round(b[key] * b["n"]) for b in chosen.values())
            return correct, sum(b["n"] for b in chosen.values())
    raise AssertionError(f"no step {step}")


def cell_of(correct, n):
    low, high = metrics.wilson_interval(correct, n)
    return f"{correct / n:.1%} ({correct}/{n}) [{low:.1%}, {high:.1%}]"


def spread_of(shares):
    """The report's cell for one share per seed: mean, min–max range, n per seed."""
    rates = [correct / n for correct, n in shares]
    return (f"{sum(rates) / len(rates):.1%} ({min(rates):.1%}–{max(rates):.1%}); {len(rates)} seeds, "
            f"n={shares[0][1]} each")


def build(root):
    return build_report(root).read_text()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    root = write_demo(tmp_path_factory.mktemp("demo"))
    path = build_report(root)
    return root, path, path.read_text()


# --- a demo over seeds ------------------------------------------------------------------------------------

def test_demo_sections_come_in_order(demo_report):
    _, _, text = demo_report
    positions = [text.index(heading) for heading in DEMO_SECTIONS]
    assert positions == sorted(positions)
    what = text.split("## What was run", 1)[1].split("## Base model gates", 1)[0]
    assert "world `latent-skill`" in what and "seeds: 0, 1, 2; once per seed: one-shot, format-only" in what
    assert "once, with seed 0: entropy-only, random-example" in what
    assert "estimated 600 s up front, took 660.0 s (+10% against the estimate)" in what
    assert "(shipped), 1,580,000 parameters; sha256 model.safetensors ab12cd34ef56…; corpus: recheck=0.2" in what


def test_demo_findings_are_decided_over_the_seeds(demo_report):
    _, _, text = demo_report
    assert verdicts(parse_findings(text)) == {
        ("a", "a"): "reproduced", ("b", "b"): "reproduced", ("c", "c"): "reproduced", ("d", "d"): "reproduced",
        ("e", "e"): "reproduced", ("f", "control random-reward"): "reproduced",
        ("f", "control entropy-only"): "not measured", ("f", "control random-example"): "reproduced",
        ("g", "g"): "reproduced"}
    lines = finding_lines(text)
    assert lines["a"].split(".** ")[1].startswith(
        "seed 0: 30.0% → 45.0% (+15.0); seed 1: 30.0% → 43.0% (+13.0); seed 2: 30.0% → 47.0% (+17.0); pooled over 3 "
        "seeds: 900/3000 = 30.0% → 1350/3000 = 45.0% (+15.0 points; z = 12.00, one-sided p < 0.0001); positive on 3 "
        "of 3 seeds")
    assert "seed 2: saturated at step 11, held-out step 15 44.0% → step 20 47.0% (+3.0)" in lines["b"]
    assert "π1 is mul, the other categories pooled: seed 0: 30.0% → 42.5% (+12.5)" in lines["c"]
    assert "mul (π1) 30.0% → 55.0% (+25.0 points, n=600)" in lines["c"]
    assert "seed 1: 1-shot 43.0% vs format-only 29.0% (+14.0)" in lines["d"] and "1-shot higher on 3 of 3" in lines["d"]
    assert "pooled: 1-shot 1350/3000 = 45.0% (3 seeds) vs full-set 460/1000 = 46.0% (-1.0 points" in lines["e"]
    assert "random-reward itself did not gain" in text
    assert "not measured (seed 0: entropy-only-s0: planned, not in demo.json's runs; no entropy-only run " \
           "on seed 1, seed 2)" in text
    assert "pooled over 3 seeds: 60/3000 = 2.0% → 300/3000 = 10.0%" in lines["g"]
    assert all(line.endswith(f"Rule: rule {key} as demo.json states it.") for key, line in lines.items())


def test_gates_table_and_targets_come_from_demo_json(demo_report):
    root, _, text = demo_report
    rows = {row[0]: row for row in table_rows(text, "## Base model gates (before any RL)")}
    gates = read_manifest(root)["gates"]
    assert list(rows) == [*CATEGORIES, "all (pooled)"]
    assert rows["all (pooled)"][1:] == ["150", "30.0%", "28.0%", "60.0%", "20.0%", "50.0%", "0.0%", "20.0%",
                                    "80.0% / 30.0% (n=12)", "60.0%", "+30.0 points"]
    assert "| family | n | greedy | sampled | pass@8 |" in text
    assert f"- {gates['targets'][0]['target']}: 0.000 — met" in text
    assert "- forced_minus_greedy > 0 (every family): addsub 0.300, mul 0.300" in text and "All gates met" in text


def test_selection_says_plainly_when_the_score_missed_the_example_the_skill_helps_most(tmp_path):
    root = write_demo(tmp_path)
    text = build(root)
    assert "π1's gap (+85.0 points) is within 20 points of the largest" in text
    assert "`word-3` (category word): with the skill 100.0%, without 0.0% (gap +100.0 points)" in text
    assert "its var rank: 2" in text and "| 1 | `mul-17` | mul | 0.11 | 0.25, 0.50, 1.00 |" in text
    for pi1, message in (({"with_skill": 0.8, "without_skill": 0.05}, "π1's gap is +75.0 points against +100.0"),
                         ({"with_skill": 0.5, "without_skill": 0.3}, "π1's gap is +20.0 points against +100.0"),
                         ({"with_skill": 0.3, "without_skill": 0.3}, "π1's gap is +0.0 points")):
        manifest = read_manifest(root)
        manifest["selection"]["pi1"].update(pi1)
        if pi1["with_skill"] == pi1["without_skill"]:
            del manifest["selection"]["by_gap"]  # a gap ≤ 0 is a miss on its own
        write_manifest(root, manifest)
        text = build(root)
        assert "**The paper's score did not pick the example the skill helps most**" in text and message in text


def test_per_role_table_shows_the_spread_over_seeds(demo_report):
    root, _, text = demo_report
    rows = {row[0]: row for row in table_rows(text, "## Per role over seeds")}
    assert list(rows) == ["one-shot", "full-set", "format-only", "random-reward", "random-example", "entropy-only"]
    finals = [log_proportion(root / f"pi1-s{seed}", 20, None)[0] / 1000 for seed in SEEDS]
    assert rows["one-shot"][1:4] == ["0, 1, 2", "20", f"{sum(finals) / 3:.1%} ({min(finals):.1%}–{max(finals):.1%})"]
    assert rows["one-shot"][5:] == ["90.0% on every seed", "10.0% on every seed", "1000"]
    assert rows["full-set"][1:4] == ["0", "20", "46.0%"]
    assert rows["entropy-only"][1] == "0: not measured"


def test_closing_table_numbers_come_from_the_logs(demo_report):
    root, _, text = demo_report
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    assert [row[0] for row in rows] == ["addsub", "mul (π1's category)", "chain", "compare", "word", "all (pooled)"]
    for row, name in zip(rows, [*CATEGORIES, None]):
        base = log_proportion(root / "pi1-s0", 0, name)
        one_shot = [log_proportion(root / f"pi1-s{seed}", 20, name) for seed in SEEDS]
        full = log_proportion(root / "pool", 20, name)
        assert row[1:4] == [f"{cell_of(*base)}, same on 3 seeds", spread_of(one_shot), cell_of(*full)]
        mean = sum(c / n for c, n in one_shot) / 3
        assert row[4] == f"{100 * (mean - base[0] / base[1]):+.1f}"


def test_all_runs_table_has_one_row_per_run_with_its_seed(demo_report):
    root, _, text = demo_report
    rows = {row[0]: row for row in table_rows(text, "## All runs, final held-out evaluation (pooled)")}
    assert len(rows) == 12 and rows["entropy-only-s0"][5] == "not measured (planned, not in demo.json's runs)"
    strict, lenient = (log_proportion(root / "format-only-s2", 20, None, key) for key in ("strict", "lenient"))
    assert rows["format-only-s2"][1:9] == ["format-only", "2", "format", "20", "20", "1000", cell_of(*strict),
                                           cell_of(*lenient)]


def test_demo_plots_exist_are_embedded_and_repeat_byte_for_byte(tmp_path, demo_report):
    root, _, text = demo_report
    for name in DEMO_PLOTS:
        assert (root / "plots" / name).read_bytes().startswith(PNG_SIGNATURE), name
        assert f"](plots/{name})" in text
    assert not [p for p in (root / "plots").iterdir() if p.name.startswith(".")]  # no temporary files left
    assert "each seed's saturation (moving average ≥ 90%): seed 0 step 10, seed 1 step 10, seed 2 step 11" in text
    again = build_report(root, tmp_path / "again")
    assert again.read_text() == text
    for name in DEMO_PLOTS:  # the same numbers give the same PNG bytes
        assert (tmp_path / "again" / "plots" / name).read_bytes() == (root / "plots" / name).read_bytes(), name


def test_a_run_folder_missing_from_the_demo_is_not_measured(tmp_path):
    text = build(write_demo(tmp_path, skip_full_set=True))
    e = next(f for f in parse_findings(text) if f[0] == "e")
    assert e[2:] == ("not measured", "seed 0: pool: pool/ holds no metrics.jsonl or eval.jsonl")
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    assert rows[0][3] == "not measured (pool: pool/ holds no metrics.jsonl or eval.jsonl)"


def test_a_demo_without_its_one_shot_runs_still_reports(tmp_path):
    root = write_demo(tmp_path)
    manifest = read_manifest(root)
    for seed in SEEDS:
        shutil.rmtree(root / f"pi1-s{seed}")
    manifest["runs"] = [r for r in manifest["runs"] if r["role"] != "one-shot"]
    manifest["complete"] = False
    write_manifest(root, manifest)
    text = build(root)
    assert {verdict for _, _, verdict, _ in parse_findings(text)} == {"not measured"}
    assert "(a) 1-shot RLVR lifts held-out accuracy — not measured (seed 0: one-shot-s0: planned, not in demo.json's " \
           "runs (the demo did not finish); seed 1: one-shot-s1" in text
    assert "the demo did not finish" in text and "The one-shot runs' plots and tables are missing" in text
    for name in ("categories.png", "runs_heldout.png"):  # over the runs that are there
        assert (root / "plots" / name).read_bytes().startswith(PNG_SIGNATURE)
    assert not (root / "plots" / "training_curve.png").exists()
    assert "## Base → 1-shot → full-set" not in text


def test_a_demo_whose_one_shot_evaluations_share_no_benchmark_still_reports(tmp_path):
    root = write_demo(tmp_path)
    for seed in SEEDS:
        (root / f"pi1-s{seed}" / "eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in (
            held_out(0, {"mul": 0.3}), held_out(20, {name: 0.5 for name in CATEGORIES if name != "mul"}))))
    text = build(root)
    found = {f[0]: f[2:] for f in parse_findings(text)}
    disjoint = "; ".join(f"seed {seed}: step 0 and step 20 share no benchmark" for seed in SEEDS)
    assert found["a"] == found["c"] == found["g"] == ("not measured", disjoint)
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    assert rows[-1][:3] == ["all (pooled)", "–", "–"]  # base and 1-shot pooled over no shared category: not compared
    for name in DEMO_PLOTS:
        assert (root / "plots" / name).read_bytes().startswith(PNG_SIGNATURE), name


def test_a_format_1_demo_still_reports_as_one_seed(tmp_path):
    root = write_old_demo(tmp_path)
    text = build(root)
    assert verdicts(parse_findings(text)) == {
        ("a", "a"): "reproduced", ("b", "b"): "reproduced", ("c", "c"): "reproduced", ("d", "d"): "reproduced",
        ("e", "e"): "reproduced", ("f", "control random-reward"): "reproduced",
        ("f", "control entropy-only"): "not measured", ("g", "g"): "reproduced"}
    lines = finding_lines(text)
    assert "seed –: 30.0% → 45.0% (+15.0); pooled over 1 seed: 300/1000 = 30.0% → 450/1000 = 45.0%" in lines["a"]
    assert lines["a"].endswith(f"Rule: {RULES['a']}.")  # no rules in a format-1 manifest
    assert "not measured (entropy-only: skipped: budget)" in text
    assert "## Base model gates" not in text and "a format-1 manifest" in text
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    for row, name in zip(rows, [*CATEGORIES, None]):
        assert row[1:4] == [cell_of(*log_proportion(root / "pi1", step, name)) for step in (0, 20)] + [
            cell_of(*log_proportion(root / "full-set", 20, name))]
    runs = {row[0]: row for row in table_rows(text, "## All runs, final held-out evaluation (pooled)")}
    assert runs["pi1"][1:3] == ["one-shot", "–"] and runs["entropy-only"][5] == "not measured (skipped: budget)"
    assert (root / "plots" / "training_curve.png").read_bytes().startswith(PNG_SIGNATURE)


# --- a train run, an eval run, bad input ------------------------------------------------------------

def test_a_train_run_alone(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30), held_out(10, 0.38), held_out(20, 0.45)])
    out = tmp_path / "elsewhere"
    assert main(["report", str(tmp_path / "run"), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert [(k, v) for k, _, v, _ in parse_findings(text)] == [("a", "reproduced"), ("b", "reproduced"),
                                                               ("g", "not reproduced")]
    rows = {row[0]: row for row in table_rows(text, "## Held-out accuracy, step 0 and step 20")}
    assert rows["all (pooled)"][1] == "1000"
    assert rows["all (pooled)"][4:6] == [cell_of(300, 1000), cell_of(450, 1000)]
    for name in ["training_curve.png", "entropy_length.png", "format_reflection.png", "categories.png",
                 "strict_lenient.png"]:
        assert (out / "plots" / name).read_bytes().startswith(PNG_SIGNATURE)
    assert not (tmp_path / "run" / "report.md").exists()


def test_an_eval_run_alone(tmp_path):
    benchmarks = {}
    for name, correct in (("gsm8k", 57), ("svamp", 3)):  # 0.285 * 20 * 10 = 56.99999999999999: counts are rounded
        lenient = correct / 200
        benchmarks[name] = {"n": 20, "k": 10, "avg@k": lenient, "pass@k": {"1": lenient, "10": 0.5}, "pass@1": lenient,
                            "maj@k": 0.4, "strict": 0.0, "lenient": lenient,
                            "lenient_ci95": list(metrics.wilson_interval(correct, 200)), "boxed_rate": 0.1,
                            "truncated_rate": 0.2, "mean_length": 150.0, "reflection_rate": 0.0,
                            "reflection_counts": {"rethink": 0, "recheck": 0, "recalculate": 0}}
    summary = {"model": "toy", "config": {"model": "toy", "n_samples": 10}, "benchmarks": benchmarks,
               "paper6_mean": None}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    text = build_report(tmp_path).read_text()
    rows = {row[0]: row for row in table_rows(text, "## Held-out accuracy")}
    low, high = benchmarks["gsm8k"]["lenient_ci95"]
    assert rows["gsm8k"][1:4] == ["20 × 10", "0.0% (0/200) [0.0%, 1.9%]", f"28.5% (57/200) [{low:.1%}, {high:.1%}]"]
    assert rows["all (pooled)"][3] == cell_of(60, 400)
    assert rows["gsm8k"][4] == "50.0% (k=10)"
    for name in ("categories.png", "strict_lenient.png"):
        assert (tmp_path / "plots" / name).read_bytes().startswith(PNG_SIGNATURE)


def test_a_run_whose_evaluations_share_no_benchmark_still_reports(tmp_path):
    write_run(tmp_path / "run", RISING, [held_out(0, {"mul": 0.3}), held_out(20, {"word": 0.6})])
    text = (build_report(tmp_path / "run", tmp_path / "new" / "sub")).read_text()
    assert {f[0]: f[2:] for f in parse_findings(text)}["a"] == ("not measured", "step 0 and step 20 share no benchmark")
    for name in ("training_curve.png", "categories.png", "strict_lenient.png"):
        assert (tmp_path / "new" / "sub" / "plots" / name).read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("name, content, message", [
    ("summary.json", '{"model": "\\ud800", "benchmarks": {"g": {"n": 2, "strict": 0.5, "lenient": 0.5}}}',
     "summary.json field model: text is not valid Unicode (a lone surrogate)"),
    ("summary.json", '{"benchmarks": {"g": {"n": 1e400, "strict": 0.5, "lenient": 0.5}}}',
     "summary.json benchmark g n: must be a whole number from 1 to 2^63 − 1"),
    ("summary.json", '{"benchmarks": {"g": {"n": 2, "strict": 0.5}}}', "summary.json benchmark g: missing lenient"),
    ("eval.jsonl", f'{{"step": {10**400}, "benchmarks": {{"g": {{"n": 2, "strict": 0.5, "lenient": 0.5}}}}}}\n',
     "eval.jsonl:1: step must be a whole number from 0 to 2^63 − 1"),
])
def test_numbers_and_text_the_report_cannot_use_are_bad_input(tmp_path, capsys, name, content, message):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / name).write_text(content)
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "new" / "sub")]) == 2
    assert message in one_line_of(capsys.readouterr().err)
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and [p.name for p in (tmp_path / "run").iterdir()] == [name]


def test_a_folder_without_run_files_is_bad_input(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("nothing to report")
    out = tmp_path / "out"
    assert main(["report", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("oneshot-rlvr report: error: ")
    assert all(name in err for name in ("demo.json", "metrics.jsonl", "eval.jsonl", "summary.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


def test_a_damaged_log_is_bad_input(tmp_path, capsys):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30), held_out(20, 0.45)])
    with open(tmp_path / "run" / "eval.jsonl", "a") as stream:
        stream.write("{not json\n")
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "eval.jsonl:3: not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "run" / "report.md").exists() and not (tmp_path / "run" / "plots").exists()



def test_output_paths_that_cannot_take_the_report_are_bad_input(tmp_path, capsys):
    write_run(tmp_path / "run", RISING, [held_out(0, 0.30), held_out(20, 0.45)])
    (tmp_path / "file.txt").write_text("x")
    cases = [(["--out", str(tmp_path / "file.txt" / "sub")], "file.txt is a file, so the folder cannot be made"),
             (["--out", ""], "--out is empty")]
    for argv, message in cases:
        assert main(["report", str(tmp_path / "run"), *argv]) == 2
        assert message in one_line_of(capsys.readouterr().err)
    (tmp_path / "run" / "report.md").mkdir()
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "report.md: is a folder" in one_line_of(capsys.readouterr().err)
    (tmp_path / "run" / "report.md").rmdir()
    (tmp_path / "run" / "plots").write_text("mine")
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "plots: is a file" in one_line_of(capsys.readouterr().err)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.yaml", "eval.jsonl", "history.json",
                                                                   "metrics.jsonl", "plots"]


def test_a_report_that_fails_midway_leaves_the_previous_one_as_it_was(tmp_path, monkeypatch):
    import oneshot_rlvr.report as report

    write_run(tmp_path / "run", RISING, [held_out(0, 0.30), held_out(20, 0.45)])
    build_report(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in (tmp_path / "run" / "plots").iterdir()}

    def disk_full(path, lines):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_atomically", disk_full)
    with pytest.raises(OSError):
        build_report(tmp_path / "run")
    assert {p.name: p.read_bytes() for p in (tmp_path / "run" / "plots").iterdir()} == before
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no temporary folder left
    with pytest.raises(OSError):
        build_report(tmp_path / "run", tmp_path / "new" / "out")
    assert not (tmp_path / "new").exists()  # the folders it made for the report, parents too, are gone again


def one_line_of(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]
