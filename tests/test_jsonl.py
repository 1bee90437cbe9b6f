"""``read_jsonl``: each policy against the inputs the toolkit's readers meet (blank lines, a cut last line,
bytes that are not UTF-8, U+2028 inside a string, bad JSON in the middle, a number past Python's digit limit,
deep nesting)."""

import json

import pytest

from oneshot_rlvr.jsonl import JsonlError, read_jsonl

A, B = b'{"a": 1}', b'{"b": 2}'
TRAIN_LOG = {"blank_lines": "skip", "cut_last_line": "drop_if_bad"}  # runlogs
BEING_WRITTEN = {"blank_lines": "skip", "cut_last_line": "drop"}  # demo_jobs, evaljournal
INPUT = {"blank_lines": "skip", "cut_last_line": "read"}  # pools, benchmarks, completions
STRICT = {"blank_lines": "error", "cut_last_line": "read"}  # evalfiles, grade --file

# (input, policy, the records as (line, value), or the error as (line, kind, reason))
CASES = {
    "plain": (A + b"\n" + B + b"\n", INPUT, [(1, {"a": 1}), (2, {"b": 2})]),
    "no newline at the end, read": (A + b"\n" + B, INPUT, [(1, {"a": 1}), (2, {"b": 2})]),
    "no newline at the end, dropped": (A + b"\n" + B, BEING_WRITTEN, [(1, {"a": 1})]),
    "whole last line kept when only a bad one is dropped": (A + b"\n" + B, TRAIN_LOG, [(1, {"a": 1}), (2, {"b": 2})]),
    "cut last line": (A + b'\n{"b": ', TRAIN_LOG, [(1, {"a": 1})]),
    "cut last line, dropped unread": (A + b'\n{"b": ', BEING_WRITTEN, [(1, {"a": 1})]),
    "cut last line, read": (A + b'\n{"b": ', INPUT, (2, "json", "Expecting value")),
    "cut line followed by more": (A + b'\n{"b": \n' + B + b"\n", TRAIN_LOG, (2, "json", "Expecting value")),
    "bad JSON in the middle": (A + b"\n{oops}\n" + B + b"\n", BEING_WRITTEN,
                               (2, "json", "Expecting property name enclosed in double quotes")),
    "blank lines skipped": (b"\n" + A + b"\n  \r\n\n" + B + b"\n", INPUT, [(2, {"a": 1}), (5, {"b": 2})]),
    "blank line refused": (A + b"\n\n" + B + b"\n", STRICT, (2, "blank", "Expecting value")),
    "whitespace line refused": (A + b"\n \t\n", STRICT, (2, "blank", "Expecting value")),
    "CRLF": (A + b"\r\n" + B + b"\r\n", STRICT, [(1, {"a": 1}), (2, {"b": 2})]),
    "U+2028 inside a string": ('{"r": "a\u2028b\u0085c"}\n'.encode(), STRICT, [(1, {"r": "a\u2028b\u0085c"})]),
    "not UTF-8": (A + b'\n{"r": "\xff"}\n', INPUT, (2, "utf8", "invalid start byte")),
    "not UTF-8 in a cut last line, dropped unread": (A + b'\n{"r": "\xe2\x80', BEING_WRITTEN, [(1, {"a": 1})]),
    "a number past the digit limit": (b'{"n": 1' + b"0" * 5000 + b"}\n", INPUT,
                                      (1, "value", ("Exceeds the limit (4300 digits) for integer string conversion: "
                                                   "value has 5001 digits"))),
    "deep nesting": (b"[" * 100_000 + b"\n", INPUT, (1, "depth", "nested too deeply")),
    "empty": (b"", STRICT, []),
    "a bare value": (b'"x"\n5\nnull\n', STRICT, [(1, "x"), (2, 5), (3, None)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_read_jsonl(case):
    data, policy, expected = CASES[case]
    if isinstance(expected, list):
        assert list(read_jsonl(data, **policy)) == expected
        if data.isascii() or b"\xe2\x80\xa8" in data:  # text already decoded reads the same
            assert list(read_jsonl(data.decode("utf-8"), **policy)) == expected
        return
    with pytest.raises(JsonlError) as raised:
        list(read_jsonl(data, **policy))
    assert (raised.value.number, raised.value.kind, raised.value.reason) == expected


def test_a_path_is_read_as_bytes_and_named_in_the_message(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(A + b'\n{"id": 2, oops}\n{"r": "\xff"}\n')
    with pytest.raises(JsonlError, match=r"p\.jsonl:2: not valid JSON \(Expecting property name enclosed in double "
                                         r"quotes at column 11\); write one JSON object per line$"):
        list(read_jsonl(path, **INPUT))
    path.write_bytes(A + b'\n{"r": "\xff"}\n')
    with pytest.raises(JsonlError, match=r"p\.jsonl:2: not UTF-8 text \(byte 0xff at position 8\); save the file as "
                                         r"UTF-8$"):
        list(read_jsonl(path, **INPUT))
    path.write_bytes(b"[" * 100_000)
    with pytest.raises(JsonlError, match=r"p\.jsonl:1: not readable JSON \(nested too deeply\); write one"):
        list(read_jsonl(path, **INPUT))


def test_error_turns_a_bad_line_into_the_callers_exception():
    class PoolError(ValueError):
        pass

    with pytest.raises(PoolError, match=r"^<jsonl>:2: not valid JSON \(Expecting value at column 1\)") as raised:
        list(read_jsonl(A + b"\n]\n", **INPUT, error=PoolError))
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(RuntimeError, match="^line 2, json$"):
        list(read_jsonl(A + b"\n]\n", **INPUT, error=lambda bad: RuntimeError(f"line {bad.number}, {bad.kind}")))


def test_bad_lines_can_be_yielded_and_reading_goes_on():
    values = list(read_jsonl("[]\n\nNaN\n{}", **STRICT, bad_lines="yield", loads=lambda line: json.loads(
        line, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(f"{name} is not standard JSON")))))
    assert [number for number, _ in values] == [1, 2, 3, 4] and values[0][1] == [] and values[3][1] == {}
    assert [(bad.kind, bad.reason) for _, bad in values[1:3]] == [("blank", "Expecting value"),
                                                                  ("value", "NaN is not standard JSON")]


def test_the_policies_are_named():
    with pytest.raises(ValueError, match="blank_lines must be one of"):
        list(read_jsonl(A, blank_lines="ignore", cut_last_line="read"))
    with pytest.raises(ValueError, match="cut_last_line must be one of"):
        list(read_jsonl(A, blank_lines="skip", cut_last_line="keep"))
