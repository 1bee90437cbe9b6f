"""`oneshot-rlvr grade` (grading/cli.py): input that is bad as a whole (empty) and an unusable --out.

The per-line errors and the rest of the command are tested in test_cli.py.
"""

from __future__ import annotations

import io
import json
import sys

import pytest

from oneshot_rlvr.cli import main

GOOD = json.dumps({"response": r"\boxed{1}", "gold": 1}) + "\n"


def _error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("oneshot-rlvr grade: error: "), (out, err)
    return lines[0]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"], ids=["empty", "byte-order-mark-only"])
def test_empty_file_is_bad_input(tmp_path, capsys, content):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(content)
    assert main(["grade", "--file", str(source), "--out", str(target)]) == 2
    assert f"{source}: empty, nothing to grade" in _error_line(capsys)
    assert not target.exists()


def test_empty_stdin_is_bad_input(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["grade", "--file", "-"]) == 2
    assert "<stdin>: empty, nothing to grade" in _error_line(capsys)


def test_empty_out_is_bad_input_before_grading(tmp_path, capsys, monkeypatch):
    from oneshot_rlvr import grading

    def grade_many(*_, **__):
        raise AssertionError("graded before --out was checked")

    monkeypatch.setattr(grading, "grade_many", grade_many)
    source = tmp_path / "in.jsonl"
    source.write_text(GOOD)
    assert main(["grade", "--file", str(source), "--out", ""]) == 2
    assert "--out is empty; give a file name" in _error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_out_that_is_the_input_file_is_refused(tmp_path, capsys):
    source = tmp_path / "pairs.jsonl"
    source.write_text(GOOD)
    for out in (source, tmp_path / "." / "pairs.jsonl"):  # the same file, however it is spelled
        assert main(["grade", "--file", str(source), "--out", str(out)]) == 2
        assert "is the --file being graded" in _error_line(capsys)
    assert source.read_text() == GOOD


def test_text_that_is_not_valid_unicode_is_graded_not_a_crash(tmp_path, capsys):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"response": "\\\\boxed{\\ud800}", "gold": "5"}\n')  # JSON's escape of a lone surrogate
    assert main(["grade", "--file", str(source), "--out", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["extracted"] == "\ud800"
    assert main(["grade", "--file", str(source)]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is False


def test_empty_file_name_is_bad_input(capsys):
    assert main(["grade", "--file", ""]) == 2
    assert "--file is empty" in _error_line(capsys)
