"""`oneshot-rlvr eval --regrade RUN [--grader NAME | --compare-graders]` (evalregrade.py)."""

from __future__ import annotations

import json

import pytest

from oneshot_rlvr.cli import main

SAMPLES = [{"sample": 0, "length": 5, "finish_reason": "stop", **row} for row in [
    # the graders agree on the first two and differ on the last two
    {"benchmark": "math500", "id": "1", "response": "so \\boxed{3}", "gold": "3"},
    {"benchmark": "math500", "id": "2", "response": "so \\boxed{4}", "gold": "5"},
    {"benchmark": "math500", "id": "3", "response": "so \\boxed{7550416}", "gold": "7550415"},
    {"benchmark": "aime24", "id": "4", "response": "so $\\boxed{4}$ and $\\boxed{-6}$", "gold": "4, -6"},
]]


def _run(path, summary=None):
    path.mkdir()
    (path / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    (path / "summary.json").write_text(json.dumps(summary if summary is not None else {"config": {}}))
    return path


def _files(path):
    return {p.name: p.read_bytes() for p in path.iterdir()}


def _one_error_line(capsys):
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oneshot-rlvr eval: error: "), err
    return lines[0]


def _summary(run):
    return json.loads((run / "summary.json").read_text())


def test_regrade_records_the_grader_and_keeps_it(tmp_path, capsys):
    run = _run(tmp_path / "run")
    assert main(["eval", "--regrade", str(run), "--workers", "1"]) == 0
    first = _summary(run)
    assert first["grader"] == "oneshot-rlvr" and first["benchmarks"]["math500"]["avg@k"] == pytest.approx(1 / 3)
    assert main(["eval", "--regrade", str(run), "--workers", "1", "--grader", "qwen25-math"]) == 0
    second = _summary(run)
    assert second["grader"] == "qwen25-math" and second["config"]["grader"] == "qwen25-math"
    assert second["benchmarks"]["math500"]["avg@k"] == pytest.approx(2 / 3)
    assert second["benchmarks"]["aime24"]["avg@k"] == 0
    assert "graded with qwen25-math" in capsys.readouterr().out
    assert main(["eval", "--regrade", str(run), "--workers", "1"]) == 0  # no --grader: the one recorded
    assert _summary(run)["grader"] == "qwen25-math"


def test_regrade_of_a_run_with_an_unknown_grader_is_bad_input(tmp_path, capsys):
    run = _run(tmp_path / "run", {"config": {}, "grader": "gpt-judge"})
    before = _files(run)
    assert main(["eval", "--regrade", str(run), "--workers", "1"]) == 2
    line = _one_error_line(capsys)
    assert '"grader" is "gpt-judge"' in line and "give --grader oneshot-rlvr or --grader qwen25-math" in line
    assert _files(run) == before
    assert main(["eval", "--regrade", str(run), "--workers", "1", "--grader", "oneshot-rlvr"]) == 0


def test_compare_graders_writes_the_parity_report_and_leaves_the_run(tmp_path, capsys):
    run = _run(tmp_path / "run")
    before = _files(run)
    assert main(["eval", "--regrade", str(run), "--workers", "1", "--compare-graders"]) == 0
    out, err = capsys.readouterr()
    assert {name: data for name, data in _files(run).items() if name in before} == before
    report = json.loads((run / "grader_parity.json").read_text())
    assert report["graders"] == ["oneshot-rlvr", "qwen25-math"]
    math500, aime = report["benchmarks"]["math500"], report["benchmarks"]["aime24"]
    assert (math500["samples"], math500["differ"]) == (3, 1)
    assert math500["avg@k"] == {"oneshot-rlvr": pytest.approx(1 / 3), "qwen25-math": pytest.approx(2 / 3)}
    assert aime["avg@k"] == {"oneshot-rlvr": 1.0, "qwen25-math": 0.0}
    differ = {row["id"]: row for row in report["differences"]}
    assert set(differ) == {"3", "4"}
    assert differ["4"]["oneshot-rlvr"] == {"correct": True, "extracted": "4, -6", "reason": "match"}
    assert differ["4"]["qwen25-math"]["extracted"] == "-6" and not differ["4"]["qwen25-math"]["correct"]
    markdown = (run / "grader_parity.md").read_text()
    assert markdown == out
    assert "| math500 | 3 | 33.3% | 66.7% |" in markdown and "## aime24: 1 sample graded differently" in markdown
    assert "`4, -6`" in markdown and "2 samples graded differently" in err


def test_compare_graders_on_agreeing_samples_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text(json.dumps(SAMPLES[0]) + "\n")
    assert main(["eval", "--regrade", str(run), "--workers", "1", "--compare-graders"]) == 0
    assert "The graders agree on every sample." in capsys.readouterr().out
    assert json.loads((run / "grader_parity.json").read_text())["differences"] == []


@pytest.mark.parametrize("argv, message", [
    (["--compare-graders"], "--compare-graders compares the graders on a saved run"),
    (["--regrade", "{run}", "--compare-graders", "--grader", "qwen25-math"], "--grader has no effect with --compare-graders"),
    (["--regrade", "{run}", "--grader", "qwen"], "argument --grader: invalid choice: 'qwen'"),
    (["--regrade", "{run}", "--compare-graders", "--limit", "3"], "--limit has no effect with --regrade"),
])
def test_grader_flags_bad_input(argv, message, tmp_path, capsys):
    run = _run(tmp_path / "run")
    before = _files(run)
    assert main(["eval", *[arg.replace("{run}", str(run)) for arg in argv]]) == 2
    assert message in _one_error_line(capsys)
    assert _files(run) == before


def test_compare_graders_refuses_a_report_path_that_is_a_folder(tmp_path, capsys):
    run = _run(tmp_path / "run")
    (run / "grader_parity.md").mkdir()
    assert main(["eval", "--regrade", str(run), "--workers", "1", "--compare-graders"]) == 2
    assert "grader_parity.md: exists and is not a regular file" in _one_error_line(capsys)
    assert not (run / "grader_parity.json").exists()
