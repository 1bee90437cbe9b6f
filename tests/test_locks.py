"""One run per output folder: a second train / eval / demo into a folder in use is refused (cliutil.lock_output_dir)."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from oneshot_rlvr.cli import main
from oneshot_rlvr.cliutil import LOCK_FILE, CommandError, lock_output_dir, output_locks

# Holds FOLDER's lock as `oneshot-rlvr train --out FOLDER` would, until its stdin closes (or it is killed).
HOLDER = """
import sys
from oneshot_rlvr.cliutil import lock_output_dir, output_locks
with output_locks("oneshot-rlvr train --out " + sys.argv[1]):
    lock_output_dir(sys.argv[1])
    print("held", flush=True)
    sys.stdin.read()
"""
SAMPLE = {"benchmark": "math500", "id": "1", "sample": 0, "prompt": "1+1?", "response": "\\boxed{2}", "gold": "2",
          "length": 3, "finish_reason": "stop", "meta": {}}


@pytest.fixture
def hold():
    """``hold(folder)``: a process holding ``folder``'s lock (started, and killed at the end of the test)."""
    started = []

    def start(folder):
        process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline() == "held\n"
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _in_use(process, folder) -> str:
    return f"{folder}: in use by pid {process.pid} (oneshot-rlvr train --out {folder}); one run per output folder"


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_second_process_is_refused_with_one_line_and_writes_nothing(tmp_path, hold):
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text(json.dumps(SAMPLE) + "\n")
    (run / "summary.json").write_text('{"config": {}}')
    holder = hold(run)
    before = _files(run)
    assert before[LOCK_FILE].decode() == f"{holder.pid} oneshot-rlvr train --out {run}\n"
    second = subprocess.run([sys.executable, "-m", "oneshot_rlvr.cli", "eval", "--regrade", str(run), "--workers",
                             "1"], capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 2
    assert _one_error_line(second.stderr) == f"oneshot-rlvr eval: error: {_in_use(holder, run)}: wait for it to " \
                                             f"end or choose another folder"
    assert _files(run) == before


def test_a_folder_in_use_is_refused_in_this_process_too(tmp_path, hold):
    holder = hold(tmp_path / "out")
    before = _files(tmp_path / "out")
    with output_locks("oneshot-rlvr eval --out out"), \
            pytest.raises(CommandError, match=re.escape(_in_use(holder, tmp_path / "out"))) as raised:
        lock_output_dir(tmp_path / "out")
    assert raised.value.status == 2 and _files(tmp_path / "out") == before


@pytest.mark.parametrize("ending", ["exit", "SIGKILL"])
def test_the_lock_is_free_again_when_its_holder_ends(ending, tmp_path, hold):
    out = tmp_path / "out"
    out.mkdir()  # not made by the lock, so not removed with it
    holder = hold(out)
    if ending == "exit":
        holder.stdin.close()
    else:
        holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    # a clean exit removes the lock file; a killed holder leaves it, but the kernel has dropped its lock
    assert (out / LOCK_FILE).exists() == (ending == "SIGKILL")
    with output_locks("oneshot-rlvr eval --out out"):
        lock_output_dir(out)
        assert (out / LOCK_FILE).read_text() == f"{os.getpid()} oneshot-rlvr eval --out out\n"
    assert list(out.iterdir()) == []  # released with the command: the lock file goes too


def _argv(command, folder, tiny, pool):
    return {"train": ["train", "--model", tiny, "--data", pool, "--examples", "1", "--out", str(folder)],
            "train --resume": ["train", "--model", tiny, "--data", pool, "--examples", "1", "--resume",
                               "--out", str(folder)],
            "eval": ["eval", "--out", str(folder)],
            "eval --resume": ["eval", "--resume", str(folder)],
            "eval --regrade": ["eval", "--regrade", str(folder)],
            "demo": ["demo", "--out", str(folder)]}[command]


@pytest.mark.parametrize("command", ["train", "train --resume", "eval", "eval --resume", "eval --regrade", "demo"])
def test_a_real_run_into_a_folder_in_use_is_refused(command, tiny, pool, tmp_path, hold, capsys, monkeypatch):
    import oneshot_rlvr.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    out = tmp_path / "out"
    holder = hold(out)
    (out / "metrics.jsonl").write_text('{"step": 1}\n')  # what a run in progress has written so far
    (out / "journal.jsonl").write_text("")
    before = _files(out)
    assert main(_argv(command, out, tiny, pool)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"oneshot-rlvr {command.split()[0]}: error: {_in_use(holder, out)}"), line
    assert _files(out) == before


def test_a_folder_under_a_folder_in_use_locks_apart(tmp_path, hold):
    """The demo holds its folder while its train runs hold theirs, under it."""
    hold(tmp_path / "demo")
    with output_locks("oneshot-rlvr train --out demo/pool"):
        lock_output_dir(tmp_path / "demo" / "pool")
        assert (tmp_path / "demo" / "pool" / LOCK_FILE).is_file()


@pytest.mark.parametrize("variable, value, locks", [("RANK", "1", False), ("LOCAL_RANK", "1", False),
                                                    ("RANK", "0", True)])
def test_only_the_main_process_of_a_launch_locks(variable, value, locks, tmp_path, hold, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv(variable, value)
    with output_locks("oneshot-rlvr train --out out"):
        lock_output_dir(tmp_path / "out")
        assert (tmp_path / "out" / LOCK_FILE).exists() == locks
    hold(tmp_path / "used")
    with output_locks("oneshot-rlvr train --out used"):
        if locks:
            with pytest.raises(CommandError, match="in use by pid"):
                lock_output_dir(tmp_path / "used")
        else:  # rank 0 holds it: the others write into it beside it
            lock_output_dir(tmp_path / "used")


def test_bad_input_found_after_the_lock_still_leaves_nothing(tiny, pool, tmp_path, capsys, monkeypatch):
    import oneshot_rlvr.demo as demo

    new = tmp_path / "new" / "deeper"
    monkeypatch.setattr(demo, "load_base", lambda world, rebuild, say: (tmp_path, {}, "shipped"))
    monkeypatch.setattr(demo, "speed_probe", lambda folder: 1.0)
    assert main(["demo", "--out", str(new), "--budget-minutes", "0.01"]) == 2
    assert "the plan needs about" in _one_error_line(capsys.readouterr().err)
    assert main(["eval", "--out", str(new), "--benchmarks", "nope"]) == 2  # --limit 0 is argparse's now: before the lock
    assert "unknown benchmark nope" in _one_error_line(capsys.readouterr().err)
    assert main(["train", "--model", tiny, "--data", pool, "--examples", "1", "--set", "eval_every=0", "--resume",
                 "--out", str(new)]) == 2
    assert "--resume: no run in" in _one_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == [tmp_path / "pool.jsonl"]  # the folders the lock made are gone again


def test_a_lock_file_that_is_a_link_is_never_written_through(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "precious.txt").write_text("keep")
    (tmp_path / "out" / LOCK_FILE).symlink_to(tmp_path / "precious.txt")
    with output_locks("oneshot-rlvr train --out out"):
        lock_output_dir(tmp_path / "out")
    assert (tmp_path / "precious.txt").read_text() == "keep" and (tmp_path / "out" / LOCK_FILE).is_symlink()
