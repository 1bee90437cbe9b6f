"""Output paths: a result is written whole or not at all, and never replaces something that is not a file."""

import argparse
import json
import os
import re
import stat

import pytest

from oneshot_rlvr.cliutil import (CommandError, check_output_dir, check_output_path, json_line, library_errors,
                                  positive_minutes, seed_int, why_not_a_file, write_atomically)


def test_a_file_is_replaced_whole(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    write_atomically(str(target), ["a\n", "b\n"])
    assert target.read_text() == "a\nb\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_something_that_is_not_a_file_is_never_replaced(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # stands in for /dev/null: renaming onto it would put a file in its place
    with pytest.raises(CommandError, match="is not a regular file"):
        check_output_path(str(pipe))
    with pytest.raises(CommandError, match="is not a regular file"):
        write_atomically(str(pipe), ["x\n"])
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and [p.name for p in tmp_path.iterdir()] == ["pipe"]


@pytest.mark.parametrize("path, message", [("", "--out is empty"), ("{tmp}", "is a directory"),
                                           ("{tmp}/absent/out.jsonl", "does not exist")])
def test_an_unwritable_output_path_is_bad_input(tmp_path, path, message):
    with pytest.raises(CommandError, match=message) as raised:
        check_output_path(path.format(tmp=tmp_path))
    assert raised.value.status == 2


def test_an_output_folder_that_cannot_be_made_is_bad_input(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    check_output_dir(str(tmp_path / "new" / "deeper"))  # made later, with its parents
    check_output_dir(str(tmp_path))
    for path, message in [("", "--out is empty"), (tmp_path / "file.txt", "is a file; give a folder"),
                          (tmp_path / "file.txt" / "sub", "file.txt is a file, so the folder cannot be made")]:
        with pytest.raises(CommandError, match=message):
            check_output_dir(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # a check makes nothing


def test_an_input_that_is_not_a_file_is_named_for_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    assert why_not_a_file(tmp_path) == "is a folder, not a file"
    assert why_not_a_file(tmp_path / "pipe") == "is not a regular file (a pipe or a device)"
    assert why_not_a_file(tmp_path / "absent") == "no such file"


def test_json_lines_keep_text_that_is_not_valid_unicode(tmp_path):
    record = {"answer": "\ud800", "problem": "π"}  # a lone surrogate, as JSON's "\ud800" reads back
    line = json_line(record)
    assert json.loads(line) == record and line.encode("utf-8")  # valid UTF-8, the same value back
    assert json_line({"problem": "π"}) == '{"problem": "π"}\n'  # ordinary text stays as it is
    write_atomically(str(tmp_path / "out.jsonl"), [line])
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8")) == record


# --- argument types and the library-error helper ------------------------------------------------------

@pytest.mark.parametrize("text, value", [("0", 0), ("4294967295", 4294967295), (" 7", 7)])
def test_seed_int_takes_numpys_range(text, value):
    assert seed_int(text) == value


@pytest.mark.parametrize("text, message", [
    ("-1", "must be between 0 and 4294967295, got '-1'"),
    ("4294967296", "must be between 0 and 4294967295, got '4294967296'"),
    ("1.5", "must be a whole number, got '1.5'"),
    ("x", "must be a whole number, got 'x'"),
])
def test_seed_int_refuses(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(message)}$"):
        seed_int(text)


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon"])
def test_positive_minutes_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError, match="minutes"):
        positive_minutes(text)
    assert positive_minutes("0.5") == 0.5


def test_library_errors_become_one_command_error_with_the_same_message():
    class PoolError(ValueError):
        pass

    with pytest.raises(CommandError) as caught:
        with library_errors(PoolError, KeyError):
            raise PoolError("pool.jsonl:3: no answer; add one")
    assert str(caught.value) == "pool.jsonl:3: no answer; add one" and caught.value.status == 2
    assert caught.value.__suppress_context__  # no "during handling" chain in a traceback
    with pytest.raises(CommandError) as caught:
        with library_errors(RuntimeError, status=1):
            raise RuntimeError("a run failed")
    assert caught.value.status == 1
    with pytest.raises(TypeError):  # other errors pass through: a bug is not bad input
        with library_errors(ValueError):
            raise TypeError("bug")
