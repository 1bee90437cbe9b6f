"""The report stage on synthetic run folders: its numbers come from the logs, its verdicts follow the data."""

import json
import re
import shutil

import pytest

pytest.importorskip("matplotlib")

from oneshot_rlvr import metrics  # noqa: E402
from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.report import build_report  # noqa: E402
from run_folders import CATEGORIES, RISING, held_out, write_demo, write_run  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEMO_PLOTS = ["training_curve.png", "entropy_length.png", "format_reflection.png", "categories.png",
              "strict_lenient.png", "runs_heldout.png"]
FINDING = re.compile(r"^- \*\*\((\w)\) (.+?) — (reproduced|not reproduced|not measured)(?: \((.*)\))?\.\*\*(.*)$")


def parse_findings(text):
    found = [FINDING.match(line) for line in text.splitlines() if line.startswith("- **(")]
    assert all(found), text
    return [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in found]


def verdicts(found):
    return {(key, claim.split(":")[0] if key == "f" else key): verdict for key, claim, verdict, _ in found}


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


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    root = write_demo(tmp_path_factory.mktemp("demo"))
    path = build_report(root)
    return root, path, path.read_text()


# --- a demo -----------------------------------------------------------------------------------------

def test_demo_findings_are_reproduced_when_the_data_shows_them(demo_report):
    _, _, text = demo_report
    found = parse_findings(text)
    assert verdicts(found) == {
        ("a", "a"): "reproduced", ("b", "b"): "reproduced", ("c", "c"): "reproduced", ("d", "d"): "reproduced",
        ("e", "e"): "reproduced", ("f", "control random-reward"): "reproduced",
        ("f", "control entropy-only"): "not measured", ("g", "g"): "reproduced"}
    lines = {key: line for line in text.splitlines() if (key := (FINDING.match(line) or [None, None])[1])}
    assert "step 0: 300/1000 = 30.0% → step 20: 450/1000 = 45.0% (+15.0 points" in lines["a"]
    assert "saturated at step 10; held-out step 10: 380/1000 = 38.0% → step 20: 450/1000 = 45.0%" in lines["b"]
    assert "step 0: 240/800 = 30.0% → step 20: 340/800 = 42.5%" in lines["c"]  # mul (π1's) left out
    assert "mul (π1) 30.0% → 55.0% (+25.0 points, n=200)" in lines["c"]
    assert "1-shot final 450/1000 = 45.0% vs format-only final 310/1000 = 31.0% (+14.0 points" in lines["d"]
    assert "1-shot final 450/1000 = 45.0% vs full-set final 460/1000 = 46.0% (-1.0 points" in lines["e"]
    assert "within noise" in lines["e"]
    assert "random-reward itself did not gain" in text
    assert "not measured (entropy-only: skipped: budget)" in text
    assert "step 0: 20/1000 = 2.0% → step 20: 100/1000 = 10.0%" in lines["g"]


def test_closing_table_numbers_come_from_the_logs(demo_report):
    root, _, text = demo_report
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    assert [row[0] for row in rows] == ["addsub", "mul (π1's category)", "chain", "compare", "word", "all (pooled)"]
    for row, name in zip(rows, [*CATEGORIES, None]):
        base = log_proportion(root / "pi1", 0, name)
        one_shot = log_proportion(root / "pi1", 20, name)
        full = log_proportion(root / "full-set", 20, name)
        assert row[1:4] == [cell_of(*base), cell_of(*one_shot), cell_of(*full)]
        assert row[4] == f"{100 * (one_shot[0] / one_shot[1] - base[0] / base[1]):+.1f}"


def test_all_runs_table_states_the_skipped_run(demo_report):
    root, _, text = demo_report
    rows = {row[0]: row for row in table_rows(text, "## All runs, final held-out evaluation (pooled)")}
    assert rows["entropy-only"][5] == "not measured (skipped: budget)"
    strict, lenient = (log_proportion(root / "format-only", 20, None, key) for key in ("strict", "lenient"))
    assert rows["format-only"][3:7] == ["20", "1000", cell_of(*strict), cell_of(*lenient)]


def test_demo_plots_exist_and_are_embedded(demo_report):
    root, _, text = demo_report
    for name in DEMO_PLOTS:
        assert (root / "plots" / name).read_bytes().startswith(PNG_SIGNATURE), name
        assert f"](plots/{name})" in text
    assert not [p for p in (root / "plots").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_same_input_gives_the_same_report(demo_report):
    root, path, text = demo_report
    assert build_report(root) == path
    assert path.read_text() == text


def test_a_run_folder_missing_from_the_demo_is_not_measured(tmp_path):
    root = write_demo(tmp_path, skip_full_set=True)
    text = build_report(root).read_text()
    e = next(f for f in parse_findings(text) if f[0] == "e")
    assert e[2:] == ("not measured", "full-set: full-set/ holds no metrics.jsonl or eval.jsonl")
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    assert rows[0][3] == "not measured (full-set/ holds no metrics.jsonl or eval.jsonl)"


def test_a_demo_without_its_one_shot_run_still_reports(tmp_path):
    root = write_demo(tmp_path)
    shutil.rmtree(root / "pi1")
    manifest = json.loads((root / "demo.json").read_text())
    manifest["skipped"].append({"name": "pi1", "why": "budget"})
    manifest["complete"] = False
    (root / "demo.json").write_text(json.dumps(manifest))
    text = build_report(root).read_text()
    assert {verdict for _, _, verdict, _ in parse_findings(text)} == {"not measured"}
    assert "not measured (pi1: skipped: budget)" in text and "the demo did not finish" in text
    for name in ("categories.png", "strict_lenient.png", "runs_heldout.png"):  # over the runs that are there
        assert (root / "plots" / name).read_bytes().startswith(PNG_SIGNATURE)
    assert not (root / "plots" / "training_curve.png").exists()


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


def test_a_demo_whose_one_shot_evaluations_share_no_benchmark_still_reports(tmp_path):
    root = write_demo(tmp_path)
    (root / "pi1" / "eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in (
        held_out(0, {"mul": 0.3}), held_out(20, {name: 0.5 for name in CATEGORIES if name != "mul"}))))
    text = build_report(root).read_text()
    found = {f[0]: f[2:] for f in parse_findings(text)}
    assert found["a"] == found["c"] == found["g"] == ("not measured", "step 0 and step 20 share no benchmark")
    rows = table_rows(text, "## Base → 1-shot → full-set, per category (lenient)")
    assert rows[-1][:3] == ["all (pooled)", "–", "–"]  # base and 1-shot pooled over no shared category: not compared
    for name in DEMO_PLOTS:
        assert (root / "plots" / name).read_bytes().startswith(PNG_SIGNATURE), name


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
