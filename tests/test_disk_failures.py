"""A write that fails (a full disk, a read-only folder; simulated) during a checkpoint, a metrics line or an
eval output: one line naming the path, exit status 1, the previous checkpoint and every earlier line intact."""

from __future__ import annotations

import errno
import json
import os

import pytest

from oneshot_rlvr.cli import main


def _train_argv(tiny, pool, out, steps=3):
    return ["train", "--model", tiny, "--data", pool, "--examples", "1", "--out", str(out),
            "--set", "prompts_per_step=2", "--set", "rollouts=2", "--set", "micro_batch_size=2",
            "--set", "max_prompt_tokens=256", "--set", "max_response_tokens=6", "--set", f"steps={steps}",
            "--set", "save_every=1", "--set", "keep_checkpoints=0", "--set", "eval_every=0", "--set", "dtype=float32"]


def _fail_on_call(monkeypatch, module, name: str, call: int, code: int):
    """``module.name`` raises OSError(``code``) naming its path argument on call number ``call``."""
    real, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            path = next((str(a) for a in args if isinstance(a, (str, os.PathLike)) and "/" in str(a)), "?")
            raise OSError(code, errno.errorcode[code] and ("No space left on device" if code == errno.ENOSPC
                                                            else "Read-only file system"), path)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


def _one_line(capsys) -> str:
    err = [line[line.index("oneshot-rlvr"):] for line in capsys.readouterr().err.replace("\r", "\n").splitlines()
           if "oneshot-rlvr" in line]  # a progress bar may stand before it on the terminal line
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_checkpoint_write_that_fails(code, tiny, pool, tmp_path, monkeypatch, capsys):
    import oneshot_rlvr.train_records as records

    out = tmp_path / "run"
    _fail_on_call(monkeypatch, records, "write_model", call=2, code=code)
    assert main(_train_argv(tiny, pool, out)) == 1
    line = _one_line(capsys)
    assert "input/output failed" in line and ".step-2.partial" in line, line
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if not p.name.startswith(".")) == ["step-1"]
    assert (out / "checkpoints" / "step-1" / "config.json").is_file()  # the previous checkpoint, whole
    from oneshot_rlvr.models import load_model

    load_model(str(out / "checkpoints" / "step-1"))
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[0] == 1  # whole lines, no step twice


def test_a_metrics_write_that_fails(tiny, pool, tmp_path, monkeypatch, capsys):
    import oneshot_rlvr.train_records as records

    out = tmp_path / "run"
    _fail_on_call(monkeypatch, records, "write_atomically", call=2, code=errno.ENOSPC)  # history.json, step 2
    assert main(_train_argv(tiny, pool, out)) == 1
    line = _one_line(capsys)
    assert "No space left on device" in line and "history.json" in line, line
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]  # every line before the failure, whole
    assert json.loads((out / "history.json").read_text())  # the last complete history


def test_an_eval_output_write_that_fails(tiny, tmp_path, monkeypatch, capsys):
    import oneshot_rlvr.evaluate as evaluate

    folder = tmp_path / "data" / "gsm8k"
    folder.mkdir(parents=True)
    folder.joinpath("test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    out = tmp_path / "eval"
    _fail_on_call(monkeypatch, evaluate, "write_atomically", call=2, code=errno.ENOSPC)  # summary.json
    assert main(["eval", "--model", tiny, "--benchmarks", "gsm8k", "--data-dir", str(tmp_path / "data"),
                 "--max-tokens", "4", "--workers", "1", "--out", str(out)]) == 1
    line = _one_line(capsys)
    assert "summary.json" in line and "No space left on device" in line, line
    assert (out / "journal.jsonl").is_file()  # the samples survive: --resume finishes the run
    assert main(["eval", "--resume", str(out), "--workers", "1"]) == 0
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["gsm8k"]["n"] == 1
