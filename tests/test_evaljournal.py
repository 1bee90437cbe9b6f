"""`eval`'s journal and `eval --resume` (evaljournal.py): a crash loses at most the chunk in flight."""

import json

import pytest

from oneshot_rlvr.cli import main
from oneshot_rlvr.evaljournal import CONFIG, JOURNAL
from oneshot_rlvr.generation import HFBackend

ROWS = [{"question": f"What is {a} + {a}?", "answer": f"#### {2 * a}"} for a in range(1, 8)]  # 7 problems


@pytest.fixture
def tiny_model_dir(tiny):  # conftest's tiny random model
    return tiny


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data" / "gsm8k"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return tmp_path / "data"


def _argv(model, data, out):  # 2 samples per problem, batch 1: chunks of 2 problems (4 rows)
    return ["eval", "--model", model, "--benchmarks", "gsm8k", "--data-dir", str(data), "--n-samples", "2",
            "--temperature", "1.0", "--max-tokens", "6", "--batch-size", "1", "--workers", "1", "--out", str(out)]


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _crash_after(monkeypatch, chunks: int):
    """HFBackend.generate raises on its call number ``chunks + 1`` (a crash mid-run)."""
    real, calls = HFBackend.generate, []

    def generate(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > chunks:
            raise KeyboardInterrupt("simulated crash")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HFBackend, "generate", generate)


@pytest.fixture
def uninterrupted(tiny_model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "whole"
    assert main(_argv(tiny_model_dir, data_dir, out)) == 0
    capsys.readouterr()
    assert not (out / JOURNAL).exists() and (out / CONFIG).is_file()  # the journal goes once the run is complete
    return out


@pytest.mark.parametrize("cut", ["none", "last-line", "whole-problem"])
def test_a_crashed_run_resumes_to_the_same_samples(cut, uninterrupted, tiny_model_dir, data_dir, tmp_path,
                                                   monkeypatch, capsys):
    out = tmp_path / "crashed"
    _crash_after(monkeypatch, chunks=2)
    assert main(_argv(tiny_model_dir, data_dir, out)) == 130  # "interrupted", as after Ctrl-C
    monkeypatch.undo()
    journal = out / JOURNAL
    assert len(_lines(journal)) == 8 and not (out / "samples.jsonl").exists()  # 2 chunks × 2 problems × 2 samples
    if cut == "last-line":  # killed while writing a line
        journal.write_bytes(journal.read_bytes()[:-9])
    elif cut == "whole-problem":  # one sample of the last problem lost: the problem is generated again
        journal.write_text("".join(line + "\n" for line in journal.read_text().splitlines()[:7]))
    assert main(["eval", "--resume", str(out), "--workers", "1"]) == 0
    assert not journal.exists()
    keys = ("benchmark", "id", "sample", "prompt", "response", "length", "finish_reason", "correct", "extracted")
    expected = [{k: s[k] for k in keys} for s in _lines(uninterrupted / "samples.jsonl")]
    assert [{k: s[k] for k in keys} for s in _lines(out / "samples.jsonl")] == expected
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_samples"] == (8 if cut == "none" else 6)
    assert summary["benchmarks"] == json.loads((uninterrupted / "summary.json").read_text())["benchmarks"]


def test_resume_refusals_are_one_line(uninterrupted, tiny_model_dir, data_dir, tmp_path, monkeypatch, capsys):
    assert main(["eval", "--resume", str(uninterrupted)]) == 2
    assert "complete (summary.json); nothing to resume" in capsys.readouterr().err
    assert main(["eval", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no unfinished evaluation there" in capsys.readouterr().err
    out = tmp_path / "crashed"
    _crash_after(monkeypatch, chunks=1)
    assert main(_argv(tiny_model_dir, data_dir, out)) == 130  # "interrupted", as after Ctrl-C
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["eval", "--resume", str(out), "--temperature", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--temperature has no effect with --resume" in err[0]
    assert main(_argv(tiny_model_dir, data_dir, out)) == 2  # a new run into it would interleave with the journal
    assert f"finish it with --resume {out}" in capsys.readouterr().err
    lines = (out / JOURNAL).read_text().splitlines()
    (out / JOURNAL).write_text("\n".join(["{bad"] + lines) + "\n")
    assert main(["eval", "--resume", str(out)]) == 2
    assert f"{out / JOURNAL}:1: not valid JSON" in capsys.readouterr().err
