import argparse
import json
import math
import os
import re
import statistics
from pathlib import Path

import pytest

from oneshot_rlvr.cliutil import CommandError
from oneshot_rlvr.data.pools import Example, load_pool, select_examples, write_pool_jsonl
from oneshot_rlvr.select import HistoryError, add_arguments, rank_examples, run, select

SHARED_DATA = Path(os.environ.get("ONESHOT_RLVR_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")
TRAIN_DIR = SHARED_DATA / "train"
# The paper's examples by rank of the variance (= std) score: rank -> (id, gold answer)
PAPER_RANKS = {1: ("124", "12.8"), 2: ("267", "24"), 13: ("682", "\\frac{4}{3}"),
               1209: ("789", "-\\frac{2023}{2024}")}


@pytest.fixture(scope="module")
def train_dir() -> Path:
    if not ((TRAIN_DIR / "acc_step_500.json").is_file() and (TRAIN_DIR / "dsr_sub.parquet").is_file()):
        pytest.skip(f"real training data (acc_step_500.json, dsr_sub.parquet) not found at {TRAIN_DIR} (it sits "
                    f"beside the repository as ../shared/data on the project's machines; or set "
                    f"ONESHOT_RLVR_SHARED_DATA)")
    return TRAIN_DIR


@pytest.fixture(scope="module")
def real(train_dir):
    history = json.loads((train_dir / "acc_step_500.json").read_text())
    return history, load_pool(train_dir / "dsr_sub.parquet")


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    status = run(parser.parse_args(argv))
    return status, capsys.readouterr().out


# --- the real data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["var", "std"])
def test_paper_examples_rank_where_the_paper_says(real, method):
    history, pool = real
    ranking = rank_examples(history, method)
    assert len(ranking) == 1209
    for rank, (example_id, answer) in PAPER_RANKS.items():
        [(number, example, score)] = select(history, pool, method, rank)
        assert (number, example.id, example.answer) == (rank, example_id, answer)
        assert ranking[rank - 1] == (example_id, score)
    expected = statistics.pvariance(history["124"])
    assert ranking[0][1] == pytest.approx(expected if method == "var" else math.sqrt(expected), rel=1e-12)


def test_var_and_std_give_the_same_order_and_true_scores(real):
    history, _ = real
    by_var, by_std = rank_examples(history, "var"), rank_examples(history, "std")
    assert [k for k, _ in by_var] == [k for k, _ in by_std]
    for (key, var), (_, std) in zip(by_var, by_std):
        assert var == pytest.approx(statistics.pvariance(history[key]), rel=1e-9, abs=1e-15)
        assert std == pytest.approx(math.sqrt(var), rel=1e-12)
    assert all(a[1] >= b[1] for a, b in zip(by_var, by_var[1:]))


def test_lim_matches_the_original_codes_formula(real):
    history, _ = real
    ranking = rank_examples(history, "lim")
    assert sorted(k for k, _ in ranking) == sorted(history)
    length = min(len(v) for v in history.values() if v)  # the original code's float arithmetic
    means = [sum(v[e] for v in history.values()) / len(history) for e in range(length)]
    denominator = sum((1 - a) ** 2 for a in means)
    original = {k: 1 - sum((v[e] - means[e]) ** 2 for e in range(length)) / denominator for k, v in history.items()}
    assert [k for k, _ in ranking] == sorted(original, key=original.get, reverse=True)
    for key, score in ranking:
        assert score == pytest.approx(original[key], abs=1e-12)


def test_random_is_a_full_seeded_shuffle(real):
    history, _ = real
    first, again, other = (rank_examples(history, "random", seed=s) for s in (0, 0, 1))
    assert len(first) == 1209 and sorted(k for k, _ in first) == sorted(history)
    assert first == again
    assert [k for k, _ in first] != [k for k, _ in other]
    assert [k for k, _ in first] != list(history)


def test_cli_writes_a_selection_file_train_accepts(real, train_dir, tmp_path, capsys):
    _, pool = real
    out = tmp_path / "pi1.jsonl"
    status, stdout = _run(["--history", str(train_dir / "acc_step_500.json"), "--pool",
                           str(train_dir / "dsr_sub.parquet"), "--method", "var", "--rank", "1", "--top", "2",
                           "--out", str(out)], capsys)
    assert status == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [(r["rank"], r["id"], r["answer"]) for r in lines] == [(1, "124", "12.8"), (2, "267", "24")]
    assert lines[0]["score"] > lines[1]["score"] > 0 and lines[0]["problem"]
    written = load_pool(out)
    assert [(e.id, e.answer) for e in written] == [("124", "12.8"), ("267", "24")]
    assert [e.id for e in select_examples(pool, str(out))] == ["124", "267"]
    assert select_examples(pool, str(out))[0] == next(e for e in pool if e.id == "124")


def test_cli_list_prints_the_top_of_the_ranking(train_dir, tmp_path, capsys):
    status, stdout = _run(["--history", str(train_dir / "acc_step_500.json"), "--pool",
                           str(train_dir / "dsr_sub.parquet"), "--method", "std", "--list", "20"], capsys)
    assert status == 0 and list(tmp_path.iterdir()) == []
    rows = stdout.strip().splitlines()
    assert len(rows) == 22 and rows[0].startswith("| rank | id | score | history length | mean accuracy | answer")
    cells = [c.strip() for c in rows[2].strip("|").split("|")]
    assert cells[:2] == ["1", "124"] and cells[5] == "12.8" and 44 <= int(cells[3]) <= 57
    assert [c.strip() for c in rows[3].strip("|").split("|")][1] == "267"


# --- small cases, computed by hand -----------------------------------------------------------------

SMALL = {"a": [0, 1], "b": [0.5, 0.5, 0.5], "c": [0.0, 0.0, 1.0, 1.0], "d": [0, 0, 0, 1]}


def test_var_by_hand():
    assert rank_examples(SMALL, "var") == [("a", 0.25), ("c", 0.25), ("d", 0.1875), ("b", 0.0)]


def test_std_by_hand():
    ranking = rank_examples(SMALL, "std")
    assert [k for k, _ in ranking] == ["a", "c", "d", "b"]
    assert [s for _, s in ranking] == pytest.approx([0.5, 0.5, math.sqrt(0.1875), 0.0])


def test_ties_keep_input_order_and_empty_histories_go_last():
    history = {"e": [], "c": [1, 0, 1, 0], "a": [0, 1], "z": [], "b": [0.25, 0.25]}
    for method in ("var", "std"):
        ranking = rank_examples(history, method)
        assert [k for k, _ in ranking] == ["c", "a", "b", "e", "z"]
        assert all(math.isnan(s) for _, s in ranking[3:])
    # mathematically equal variances tie exactly, whatever the order of the values
    assert [k for k, _ in rank_examples({"p": [0.1, 0.7, 0.3], "q": [0.7, 0.3, 0.1], "r": [0.3, 0.1, 0.7]},
                                        "var")] == ["p", "q", "r"]
    assert [k for k, _ in rank_examples({"q": [0.7, 0.3, 0.1], "p": [0.1, 0.7, 0.3]}, "var")] == ["q", "p"]
    ranking = rank_examples({"e": [], "x": [1], "y": [0]}, "random", seed=3)
    assert ranking[-1][0] == "e" and math.isnan(ranking[-1][1])


def test_lim_by_hand_with_three_examples():
    # L = 2; mean accuracy per epoch: (0.5+0+1)/3 = 1/2, (0.25+0+1)/3 = 5/12
    # denominator: (1-1/2)^2 + (1-5/12)^2 = 85/144
    # x: (0.5-1/2)^2 + (0.25-5/12)^2 = 4/144   -> 1 - 4/85
    # y: (0-1/2)^2 + (0-5/12)^2 = 61/144       -> 1 - 61/85
    # z: (1-1/2)^2 + (1-5/12)^2 = 85/144       -> 0   (its 3rd and 4th entries are beyond L)
    history = {"z": [1, 1, 0, 1], "y": [0, 0], "x": [0.5, 0.25, 1]}
    ranking = rank_examples(history, "lim")
    assert [k for k, _ in ranking] == ["x", "y", "z"]
    assert [s for _, s in ranking] == pytest.approx([81 / 85, 24 / 85, 0.0], abs=1e-15)
    # ties keep input order; an empty history goes last
    tied = {"n": [], "b": [1, 0], "a": [1, 0], "c": [0, 1]}
    assert [k for k, _ in rank_examples(tied, "lim")] == ["b", "a", "c", "n"]
    # every mean accuracy is 1: the denominator is 0, and every numerator too -> score 1
    assert rank_examples({"a": [1, 1], "b": [1]}, "lim") == [("a", 1.0), ("b", 1.0)]


def test_select_returns_ranks_examples_and_scores():
    pool = [Example(k, f"problem {k}", f"answer {k}") for k in ("d", "c", "b", "a", "extra")]
    chosen = select(SMALL, pool, "var", rank=2, top=2)
    assert [(r, e.id, s) for r, e, s in chosen] == [(2, "c", 0.25), (3, "d", 0.1875)]
    assert chosen[0][1] == pool[1]


@pytest.mark.parametrize("history, fragment", [
    ([0.5, 0.25], "not an object"),
    ({"7": 0.5}, "example '7'"),
    ({"7": [0.5, float("nan")]}, "example '7', position 1"),
    ({"7": [0.5, 0.5, float("inf")]}, "example '7', position 2"),
    ({"7": ["0.5"]}, "example '7', position 0"),
    ({"7": [True]}, "example '7', position 0"),
    ({"7": [10 ** 400, 0]}, "example '7', position 0 (from 0): an integer of about 400 digits is not an accuracy"),
    ({"7": [0.5, 1e308, -1e308]}, "example '7', position 1 (from 0): 1e+308 is not an accuracy; every accuracy "
                                  "must be a number from 0 to 1"),
])
def test_bad_histories_raise_naming_the_example(history, fragment):
    with pytest.raises(HistoryError, match=re.escape(fragment)):
        rank_examples(history, "var")


def test_unknown_method_raises():
    with pytest.raises(HistoryError, match="unknown method 'variance'"):
        rank_examples(SMALL, "variance")


# --- bad input on the command line: one line, exit 2, nothing written ------------------------------

@pytest.fixture()
def files(tmp_path):
    history = tmp_path / "h.json"
    history.write_text(json.dumps({"0": [0, 1], "1": [1, 1, 0], "2": [0.5]}))
    pool = write_pool_jsonl([Example(str(i), f"problem {i}", str(i * 10)) for i in range(3)], tmp_path / "pool.jsonl")
    return tmp_path, history, pool


def _bad(argv, files, fragment, capsys):
    tmp_path, _, _ = files
    before = sorted(tmp_path.iterdir())
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(CommandError) as raised:
        run(parser.parse_args(argv))
    message = str(raised.value)
    assert fragment in message and "\n" not in message and raised.value.status == 2
    assert sorted(tmp_path.iterdir()) == before and capsys.readouterr().out == ""
    return message


@pytest.mark.parametrize("content, fragment", [
    ('{"0": [0, 1],\n "1": [1, 1', "h.json:2:"),
    ("[[0, 1]]", "not an object"),
    ('{"0": {"epoch": 1}}', "example '0': history is a dict"),
    ('{"0": [0, 1], "1": [1, NaN]}', "example '1', position 1"),
    ('{"0": [0, 1], "1": [1, "x"]}', "example '1', position 1"),
    ('{"0": [0, 1], "0": [1, 0]}', "'0' appears twice"),
    ("{}", "history is empty"),
])
def test_cli_rejects_bad_history_files(files, content, fragment, capsys):
    tmp_path, history, pool = files
    history.write_text(content)
    message = _bad(["--history", str(history), "--pool", str(pool), "--rank", "1", "--out",
                    str(tmp_path / "sel.jsonl")], files, fragment, capsys)
    assert str(history) in message


@pytest.mark.parametrize("content, fragment", [
    ('{"0": [1' + "0" * 400 + ", 0]}", "example '0', position 0 (from 0): an integer of about 400 digits"),
    ('{"0": [1' + "0" * 5000 + "]}", "not readable JSON (Exceeds the limit (4300 digits) for integer string"),
    ('{"0": ' + "[" * 100_000 + "]" * 100_000 + "}", "not readable JSON (nested too deeply); the history must be"),
], ids=["401 digits", "5001 digits", "100000 brackets"])
def test_cli_rejects_histories_json_cannot_hold_as_floats(files, content, fragment, capsys):
    tmp_path, history, pool = files
    history.write_text(content)
    message = _bad(["--history", str(history), "--pool", str(pool), "--list", "3"], files, fragment, capsys)
    assert message.startswith(str(history))


def test_cli_json_error_names_line_and_column(files, capsys):
    tmp_path, history, pool = files
    history.write_text('{"0": [0, 1],\n  "1": [1,, 0]}')
    _bad(["--history", str(history), "--pool", str(pool), "--list", "3"], files, "h.json:2:11:", capsys)


def test_cli_rejects_history_ids_missing_from_the_pool(files, capsys):
    tmp_path, history, pool = files
    history.write_text(json.dumps({str(i): [0, 1] for i in range(9)}))
    message = _bad(["--history", str(history), "--pool", str(pool), "--rank", "1", "--out",
                    str(tmp_path / "sel.jsonl")], files, "3, 4, 5, 6, 7 and 1 more", capsys)
    assert "not in the pool of 3 examples" in message


@pytest.mark.parametrize("extra, fragment", [
    (["--rank", "0"], "choose --rank 1..3"),
    (["--rank", "4"], "--rank 4 is out of range; the ranking has 3 examples: choose --rank 1..3"),
    (["--rank", "2", "--top", "3"], "choose --rank 1..1 with --top 3"),
    (["--rank", "1", "--top", "0"], "--top must be at least 1"),
    (["--rank", "1", "--top", "5"], "--top 5 is more than the 3 ranked examples; choose --top 1..3"),
])
def test_cli_rejects_bad_ranks_and_methods(files, extra, fragment, capsys):
    tmp_path, history, pool = files
    _bad(["--history", str(history), "--pool", str(pool), "--out", str(tmp_path / "sel.jsonl"), *extra],
         files, fragment, capsys)


def test_cli_rejects_an_unknown_method_in_argparse(files, capsys):
    from oneshot_rlvr import cli

    tmp_path, history, pool = files
    before = sorted(tmp_path.iterdir())
    assert cli.main(["select", "--history", str(history), "--pool", str(pool), "--out", str(tmp_path / "sel.jsonl"),
                     "--rank", "1", "--method", "variance"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "argument --method: invalid choice: 'variance'" in captured.err
    assert sorted(tmp_path.iterdir()) == before


def test_cli_rejects_missing_files_and_missing_choices(files, capsys):
    tmp_path, history, pool = files
    out = str(tmp_path / "sel.jsonl")
    _bad(["--history", str(tmp_path / "nope.json"), "--pool", str(pool), "--rank", "1", "--out", out],
         files, "nope.json: no such file", capsys)
    _bad(["--history", str(history), "--pool", str(tmp_path / "nope.parquet"), "--rank", "1", "--out", out],
         files, "nope.parquet: no such file", capsys)
    _bad(["--history", str(history), "--pool", str(pool)], files, "nothing to do", capsys)
    _bad(["--history", str(history), "--pool", str(pool), "--out", out], files, "--out needs --rank", capsys)
    _bad(["--history", str(history), "--pool", str(pool), "--rank", "1", "--out", str(tmp_path / "sel.parquet")],
         files, "ending in .jsonl", capsys)


@pytest.mark.parametrize("extra, fragment", [
    (["--list", "3", "--rank", "0", "--top", "0"], "--rank chooses what --out writes; give --out FILE.jsonl too"),
    (["--list", "3", "--top", "2"], "--top chooses what --out writes"),
    (["--list", "3", "--seed", "5"], "--seed only applies to --method random, not var; drop --seed"),
    (["--rank", "1", "--out", "OUT", "--method", "lim", "--seed", "0"], "--seed only applies to --method random"),
])
def test_cli_rejects_flags_that_would_be_ignored(files, extra, fragment, capsys):
    tmp_path, history, pool = files
    extra = [str(tmp_path / "sel.jsonl") if arg == "OUT" else arg for arg in extra]
    _bad(["--history", str(history), "--pool", str(pool), *extra], files, fragment, capsys)


def test_cli_seed_goes_with_method_random(files, capsys):
    tmp_path, history, pool = files
    argv = ["--history", str(history), "--pool", str(pool), "--method", "random", "--list", "3"]
    seeded = [_run([*argv, "--seed", str(seed)], capsys) for seed in (0, 0, 7)]
    assert seeded[0] == seeded[1] == _run(argv, capsys) and seeded[0][0] == 0


@pytest.mark.parametrize("out, fragment", [
    ("file.txt/sel.jsonl", "file.txt is a file, not a folder; choose another path"),
    ("file.txt/sub/sel.jsonl", "file.txt is a file, not a folder"),
    (".jsonl", "give a file name ending in .jsonl"),
    ("", "--out is empty"),
])
def test_cli_checks_out_before_reading_anything(files, out, fragment, capsys):
    tmp_path, _, pool = files
    (tmp_path / "file.txt").write_text("keep\n")
    out = str(tmp_path / out) if out.startswith("file") else out
    message = _bad(["--history", str(tmp_path / "nope.json"), "--pool", str(pool), "--rank", "1", "--out", out],
                   files, fragment, capsys)
    assert "nope.json" not in message and (tmp_path / "file.txt").read_text() == "keep\n"


def test_cli_small_pool_round_trip(files, capsys):
    tmp_path, history, pool = files
    out = tmp_path / "sub" / "sel.jsonl"
    status, stdout = _run(["--history", str(history), "--pool", str(pool), "--method", "var", "--rank", "1",
                           "--out", str(out), "--list", "5"], capsys)
    assert status == 0
    table, line = stdout.strip().splitlines()[:5], stdout.strip().splitlines()[-1]
    assert len(table) == 5 and "| 3 | 2 | 0 | 1 | 0.500 | 20 |" in table  # variances 0.25, 2/9, 0
    assert json.loads(line) == {"rank": 1, "id": "0", "score": 0.25, "answer": "0", "problem": "problem 0"}
    assert [e.id for e in select_examples(load_pool(pool), str(out))] == ["0"]


def test_cli_main_reports_one_line_and_status_2(files, capsys):
    from oneshot_rlvr import cli

    if "select" not in cli.COMMANDS:
        pytest.skip("the select subcommand is not registered in oneshot_rlvr.cli yet")
    tmp_path, history, pool = files
    out = tmp_path / "sel.jsonl"
    assert cli.main(["select", "--history", str(history), "--pool", str(pool), "--rank", "9", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "choose --rank 1..3" in captured.err
    assert not out.exists()
