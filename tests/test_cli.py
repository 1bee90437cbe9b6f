"""The `oneshot-rlvr` entry point and its `grade` subcommand."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oneshot_rlvr import __version__, cli
from oneshot_rlvr.cli import Command, CommandError, main

SUMMARY = re.compile(r"^graded (\d+) pairs?: (\d+) correct(?: \((\d+\.\d)%\))?(, reasons: [a-z\- 0-9,]+)? in \d+\.\d s")


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected exactly one line, got {lines!r}"
    return lines[0]


# --- one pair ---------------------------------------------------------------------------------------

def test_single_pair_prints_one_verdict_line(capsys):
    assert main(["grade", "--response", r"So the result is \boxed{42}.", "--gold", "42"]) == 0
    out, err = capsys.readouterr()
    verdict = json.loads(one_line(out))
    assert verdict == {"correct": True, "extracted": "42", "reason": "match", "detail": None}
    assert err == ""


def test_single_pair_wrong_answer(capsys):
    assert main(["grade", "--response", r"\boxed{41}", "--gold", "42"]) == 0
    verdict = json.loads(one_line(capsys.readouterr().out))
    assert verdict["correct"] is False and verdict["extracted"] == "41" and verdict["reason"] == "mismatch"


def test_mode_strict_needs_a_box_lenient_does_not(capsys):
    assert main(["grade", "--response", "The answer is 7.", "--gold", "7", "--mode", "strict"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert main(["grade", "--response", "The answer is 7.", "--gold", "7"]) == 0  # lenient is the default
    lenient = json.loads(capsys.readouterr().out)
    assert (strict["correct"], strict["reason"]) == (False, "no-answer")
    assert (lenient["correct"], lenient["extracted"]) == (True, "7")


def test_single_pair_symbolic(capsys):
    assert main(["grade", "--response", r"\boxed{x^2+2x+1}", "--gold", "(x+1)^2", "--timeout", "10"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["correct"] is True and verdict["reason"] == "symbolic"


# --- a file -----------------------------------------------------------------------------------------

PAIRS = [
    {"response": r"so \boxed{2}", "gold": 2},
    {"response": "the answer is 3", "gold": "4"},
    {"response": r"\boxed{\frac{1}{2}}", "gold": 0.5},
    {"response": "no idea", "gold": "5", "id": "extra keys are ignored"},
    {"response": r"\boxed{12}", "gold": r"\boxed{12}"},
]
EXPECTED = [(True, "match"), (False, "mismatch"), (True, "numeric"), (False, "no-answer"), (True, "match")]


def test_file_to_stdout_in_order_with_summary(tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", PAIRS)
    assert main(["grade", "--file", str(source)]) == 0
    out, err = capsys.readouterr()
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [(v["correct"], v["reason"]) for v in verdicts] == EXPECTED
    assert all({"correct", "extracted", "reason"} <= set(v) for v in verdicts)
    summary = one_line(err)
    match = SUMMARY.match(summary)
    assert match, summary
    assert match.group(1, 2, 3) == ("5", "3", "60.0")
    assert "match 2" in summary and "numeric 1" in summary and "mismatch 1" in summary and "no-answer 1" in summary


def test_file_to_out_is_written_and_stdout_is_empty(tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", PAIRS)
    target = tmp_path / "out.jsonl"
    assert main(["grade", "--file", str(source), "--out", str(target), "--mode", "strict"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert SUMMARY.match(one_line(err)) and str(target) in err
    verdicts = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    # strict: "the answer is 3" has no box → no-answer instead of mismatch
    assert [(v["correct"], v["reason"]) for v in verdicts] == [EXPECTED[0], (False, "no-answer"), *EXPECTED[2:]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]  # no temp file left


def test_out_replaces_an_existing_file(tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", PAIRS[:1])
    target = tmp_path / "out.jsonl"
    target.write_text("old\nold\nold\n")
    assert main(["grade", "--file", str(source), "--out", str(target)]) == 0
    assert [json.loads(line)["correct"] for line in target.read_text().splitlines()] == [True]


def test_gold_numbers_are_kept_as_written(tmp_path, capsys):
    # as a Python float, 12345678901234567890.5 would print as 1.2345678901234567e+19 and not match
    source = tmp_path / "in.jsonl"
    source.write_text('{"response": "\\\\boxed{12345678901234567890.5}", "gold": 12345678901234567890.5}\n')
    assert main(["grade", "--file", str(source)]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True


def test_crlf_bom_and_missing_final_newline_are_fine(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"response": "\\\\boxed{1}", "gold": 1}\r\n{"response": "\\\\boxed{2}", "gold": 3}')
    assert main(["grade", "--file", str(source)]) == 0
    out = capsys.readouterr().out
    assert [json.loads(line)["correct"] for line in out.splitlines()] == [True, False]


def test_file_from_stdin(monkeypatch, capsys):
    data = json.dumps({"response": r"\boxed{9}", "gold": "9"}) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    assert main(["grade", "--file", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True


def test_unicode_answer_survives(tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", [{"response": "\\boxed{π}", "gold": "\\pi"}])
    target = tmp_path / "out.jsonl"
    assert main(["grade", "--file", str(source), "--out", str(target), "--timeout", "10"]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["extracted"] == "π"


# --- bad input: exit 2, one stderr line, nothing written ---------------------------------------------

def _bad_file(tmp_path: Path, content: str) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text(content, encoding="utf-8")
    return str(path)


GOOD = json.dumps({"response": r"\boxed{1}", "gold": 1})

BAD_FILES = {
    "invalid-json": (GOOD + "\n" + GOOD + "\n" + '{"response": "x", "gold": }' + "\n",
                     [r"line 3: not valid JSON \(Expecting value at column \d+\)"]),
    "not-an-object": (GOOD + "\n" + "[1, 2]\n", ["line 2: expected a JSON object, got an array"]),
    "a-bare-string": ('"hello"\n', ["line 1: expected a JSON object, got a string"]),
    "missing-gold": ("\n".join([GOOD] * 6 + ['{"response": "x"}']) + "\n",
                     [re.escape('line 7: missing key "gold"; each line needs {"response": ..., "gold": ...}')]),
    "missing-response": ('{"gold": 1}\n', [re.escape('line 1: missing key "response"')]),
    "blank-line": (GOOD + "\n\n" + GOOD + "\n", ["line 2: blank line"]),
    "whitespace-line": (GOOD + "\n   \n", ["line 2: blank line"]),
    "gold-null": ('{"response": "x", "gold": null}\n', ['line 1: "gold" must be a string or a number, got null']),
    "gold-list": ('{"response": "x", "gold": [1]}\n', ['line 1: "gold" must be a string or a number, got an array']),
    "gold-empty": ('{"response": "\\\\boxed{}", "gold": " "}\n', ['line 1: "gold" is empty']),
    "response-number": ('{"response": 5, "gold": 5}\n', ['line 1: "response" must be a string, got a number']),
    "nan": ('{"response": "x", "gold": NaN}\n', ["line 1: not valid JSON \\(NaN is not standard JSON\\)"]),
    "several-bad": ("[]\n{}\n" + GOOD + "\n", ["line 1: expected a JSON object", r"\(1 more bad line after it\)"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_lines_are_reported_with_their_number(tmp_path, capsys, case):
    content, patterns = BAD_FILES[case]
    source = _bad_file(tmp_path, content)
    target = tmp_path / "out.jsonl"
    assert main(["grade", "--file", source, "--out", str(target)]) == 2
    out, err = capsys.readouterr()
    line = one_line(err)
    assert line.startswith(f"oneshot-rlvr grade: error: {source} line ")
    for pattern in patterns:
        assert re.search(pattern, line), (pattern, line)
    assert "Traceback" not in err and out == ""
    assert not target.exists()


def test_bad_line_writes_nothing_to_stdout_either(tmp_path, capsys):
    source = _bad_file(tmp_path, GOOD + "\n" + "not json\n")
    assert main(["grade", "--file", source]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "line 2: not valid JSON" in one_line(err)


def test_missing_file(tmp_path, capsys):
    missing = str(tmp_path / "IN.jsonl")
    target = tmp_path / "out.jsonl"
    assert main(["grade", "--file", missing, "--out", str(target)]) == 2
    out, err = capsys.readouterr()
    assert one_line(err).startswith(f"oneshot-rlvr grade: error: {missing}: no such file; ")
    assert out == "" and not target.exists()


def test_directory_as_file(tmp_path, capsys):
    assert main(["grade", "--file", str(tmp_path)]) == 2
    assert "is a directory" in one_line(capsys.readouterr().err)


def test_not_utf8(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_bytes(GOOD.encode() + b"\n" + b'{"response": "\xff", "gold": 1}\n')
    assert main(["grade", "--file", str(source)]) == 2
    assert "line 2: not UTF-8 text" in one_line(capsys.readouterr().err)


USAGE_ERRORS = {
    "both": (["--response", "x", "--gold", "1", "--file", "{in}"], "not both"),
    "neither": ([], "nothing to grade"),
    "neither-but-gold": (["--gold", "1"], "nothing to grade"),
    "response-without-gold": (["--response", "x"], "--response needs --gold"),
    "gold-empty": (["--response", "x", "--gold", ""], "--gold is empty"),
    "gold-with-file": (["--file", "{in}", "--gold", "1"], "--gold goes with --response"),
    "bad-mode": (["--response", "x", "--gold", "1", "--mode", "loose"], "argument --mode: invalid choice: 'loose'"),
    "timeout-zero": (["--response", "x", "--gold", "1", "--timeout", "0"], "argument --timeout: must be a positive"),
    "timeout-negative": (["--file", "{in}", "--timeout", "-1"], "argument --timeout: must be a positive"),
    "timeout-nan": (["--file", "{in}", "--timeout", "nan"], "argument --timeout: must be a positive"),
    "timeout-text": (["--file", "{in}", "--timeout", "soon"], "argument --timeout: must be a number"),
    "workers-zero": (["--file", "{in}", "--workers", "0"], "argument --workers: must be at least 1"),
    "unknown-option": (["--file", "{in}", "--fast"], "unrecognized arguments: --fast"),
    "out-in-missing-dir": (["--file", "{in}", "--out", "{tmp}/no/such/dir/out.jsonl"], "does not exist"),
    "out-is-a-dir": (["--file", "{in}", "--out", "{tmp}"], "is a directory"),
}


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_usage_errors(tmp_path, capsys, case):
    arguments, expected = USAGE_ERRORS[case]
    source = write_jsonl(tmp_path / "in.jsonl", PAIRS[:1])
    target = tmp_path / "out.jsonl"
    arguments = [a.format(**{"in": source, "tmp": tmp_path}) for a in arguments]
    if "--out" not in arguments:
        arguments += ["--out", str(target)]
    assert main(["grade", *arguments]) == 2
    out, err = capsys.readouterr()
    line = one_line(err)
    assert line.startswith("oneshot-rlvr grade: error: ") and expected in line, line
    assert out == "" and not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, capsys, monkeypatch):
    source = write_jsonl(tmp_path / "in.jsonl", PAIRS)
    target = tmp_path / "out.jsonl"
    target.write_text("previous results\n")

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "replace", fail)
    assert main(["grade", "--file", str(source), "--out", str(target)]) == 1
    out, err = capsys.readouterr()
    assert "could not write (No space left on device); nothing was written" in one_line(err)
    assert target.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


# --- the top-level parser and the registry ------------------------------------------------------------

def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"oneshot-rlvr {__version__}"


def test_help_lists_subcommands_with_descriptions(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, command in cli.COMMANDS.items():
        assert re.search(rf"^\s+{name}\s+{re.escape(command.help.split()[0])}", out, re.MULTILINE), out


def test_grade_help(capsys):
    assert main(["grade", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--response", "--gold", "--file", "--out", "--mode", "--timeout", "--workers"):
        assert option in out


def test_no_subcommand(capsys):
    assert main([]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("oneshot-rlvr: error: choose a command: demo, grade")


def test_unknown_subcommand(capsys):
    assert main(["fly"]) == 2
    assert "invalid choice: 'fly'" in one_line(capsys.readouterr().err)


def test_registry_adds_subcommands(monkeypatch, capsys):
    calls = []

    def add_arguments(parser):
        parser.add_argument("--size", type=int, default=1)

    def run(args):
        calls.append(args.size)
        if args.size < 0:
            raise CommandError("--size must not be negative; pass a size of 0 or more")
        if args.size == 99:  # a library's message (YAML, TRL) can span lines: still one line on stderr
            raise CommandError("recipe.yaml: not valid YAML (while parsing\n  in line 2\n    ^)")
        if args.size == 28:  # the machine fails (a full disk): one line, exit 1, not a traceback
            raise OSError(28, "No space left on device")
        return 0

    monkeypatch.setitem(cli.COMMANDS, "demo", Command("a demo for the test", add_arguments, run))
    assert main(["demo", "--size", "3"]) == 0
    assert main(["demo", "--size", "-4"]) == 2
    assert calls == [3, -4]
    assert one_line(capsys.readouterr().err) == (
        "oneshot-rlvr demo: error: --size must not be negative; pass a size of 0 or more")
    assert main(["demo", "--size", "99"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "oneshot-rlvr demo: error: recipe.yaml: not valid YAML (while parsing in line 2 ^)")
    monkeypatch.setattr(cli, "_drop_stdout", lambda: None)  # keep pytest's own stdout (under -s) as it is
    assert main(["demo", "--size", "28"]) == 1
    assert one_line(capsys.readouterr().err) == (
        "oneshot-rlvr demo: error: input/output failed: [Errno 28] No space left on device")
    assert main(["--help"]) == 0
    assert re.search(r"^\s+demo\s+a demo for the test", capsys.readouterr().out, re.MULTILINE)


# --- the installed console script -------------------------------------------------------------------

def _console_script() -> str:
    beside = Path(sys.executable).with_name("oneshot-rlvr")
    found = str(beside) if beside.exists() else shutil.which("oneshot-rlvr")
    assert found, "the oneshot-rlvr console script is not installed (pip install -e .)"
    return found


def test_console_script_grades_a_file(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", PAIRS)
    target = tmp_path / "out.jsonl"
    result = subprocess.run([_console_script(), "grade", "--file", str(source), "--out", str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert SUMMARY.match(one_line(result.stderr))
    verdicts = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(v["correct"], v["reason"]) for v in verdicts] == EXPECTED


def test_console_script_bad_input_has_no_traceback(tmp_path):
    source = _bad_file(tmp_path, GOOD + "\n" + '{"response": "x"}' + "\n")
    target = tmp_path / "out.jsonl"
    result = subprocess.run([_console_script(), "grade", "--file", source, "--out", str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f'oneshot-rlvr grade: error: {source} line 2: missing key "gold"; each line needs {{"response": ..., "gold": ...}}')
    assert result.stdout == "" and not target.exists()


def test_console_script_usage_error_and_version():
    script = _console_script()
    bad = subprocess.run([script, "grade", "--mode", "loose"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'loose'" in one_line(bad.stderr)
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"oneshot-rlvr {__version__}"


def test_console_script_single_pair():
    result = subprocess.run([_console_script(), "grade", "--response", r"\boxed{3/4}", "--gold", "0.75"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "LC_ALL": "C"})
    assert result.returncode == 0, result.stderr
    verdict = json.loads(one_line(result.stdout))
    assert verdict["correct"] is True and verdict["extracted"] == "3/4"
    assert result.stderr == ""
