import json
import os
from collections import Counter
from pathlib import Path

import pytest

from oneshot_rlvr.data.pools import (
    Example,
    PoolError,
    duplicate_to,
    load_pool,
    select_examples,
    training_rows,
    with_wrong_label,
    write_pool_jsonl,
)
from oneshot_rlvr.data.prompts import DEEPSCALER_SUFFIX

SHARED_DATA = Path(os.environ.get("ONESHOT_RLVR_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")
TRAIN_DIR = SHARED_DATA / "train"
PAPER_EXAMPLES = {"pi1": ("124", "12.8"), "pi2": ("267", "24"), "pi13": ("682", "\\frac{4}{3}"),
                  "pi1209": ("789", "-\\frac{2023}{2024}")}


@pytest.fixture(scope="module")
def train_dir() -> Path:
    if not (TRAIN_DIR / "dsr_sub.parquet").is_file():
        pytest.skip(f"real training data not found at {TRAIN_DIR} (it sits beside the repository as "
                    f"../shared/data on the project's machines; or set ONESHOT_RLVR_SHARED_DATA)")
    return TRAIN_DIR


@pytest.fixture(scope="module")
def dsr_sub(train_dir):
    return load_pool(train_dir / "dsr_sub.parquet")


def _jsonl(path: Path, lines) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _pool(n=3):
    return [Example(str(i), f"problem {i}", str(i * 10)) for i in range(n)]


# --- the real data -----------------------------------------------------------------------------

def test_dsr_sub_loads_all_examples_with_gold_answers(dsr_sub):
    assert [e.id for e in dsr_sub] == [str(i) for i in range(1209)]
    by_id = {e.id: e for e in dsr_sub}
    for example_id, answer in PAPER_EXAMPLES.values():
        assert by_id[example_id].answer == answer
    assert all(e.category is None for e in dsr_sub)
    assert by_id["265"].answer == ""  # the paper's data holds one empty gold answer; kept as is
    assert sum(not e.answer for e in dsr_sub) == 1


def test_dsr_sub_problems_have_the_suffix_stripped(dsr_sub):
    suffix = DEEPSCALER_SUFFIX.strip()
    assert not any(suffix in e.problem or "\\boxed{}" in e.problem for e in dsr_sub)
    assert all(e.problem and e.problem == e.problem.strip() for e in dsr_sub)
    assert dsr_sub[124].problem.startswith("The pressure \\( P \\) exerted by wind")
    assert dsr_sub[124].problem.endswith("is \\( 32 \\) pounds.")


@pytest.mark.parametrize("name", sorted(PAPER_EXAMPLES))
def test_paper_training_files_are_one_example_128_times(train_dir, dsr_sub, name):
    path = train_dir / f"{name}_r128.parquet"
    with pytest.raises(PoolError, match="duplicate id .*allow_duplicates=True"):
        load_pool(path)
    rows = load_pool(path, allow_duplicates=True)
    example_id, answer = PAPER_EXAMPLES[name]
    assert len(rows) == 128 and set(rows) == {dsr_sub[int(example_id)]}
    assert rows[0].answer == answer


def test_select_paper_examples_from_dsr_sub(dsr_sub):
    picked = select_examples(dsr_sub, "124, 267,682,789")
    assert [(e.id, e.answer) for e in picked] == list(PAPER_EXAMPLES.values())
    with pytest.raises(PoolError) as error:
        select_examples(dsr_sub, "124,1209,5000")
    message = str(error.value)
    assert "1209, 5000" in message and "1209 examples" in message and "0..1208" in message
    assert "\n" not in message


# --- loading -------------------------------------------------------------------------------------

def test_jsonl_round_trip(tmp_path):
    examples = [Example("7", "What is 1+1?", "2", "arithmetic"),
                Example("a/1", "Ünïcode \\frac{1}{2}?", "\\frac{1}{2}")]
    path = write_pool_jsonl(examples, tmp_path / "sub" / "pool.jsonl")
    assert load_pool(path) == examples
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[1]) == {
        "id": "a/1", "problem": "Ünïcode \\frac{1}{2}?", "answer": "\\frac{1}{2}"}
    assert [p.name for p in path.parent.iterdir()] == ["pool.jsonl"]  # no temp file left behind


def test_write_is_atomic_on_failure(tmp_path):
    path = write_pool_jsonl(_pool(2), tmp_path / "pool.jsonl")
    before = path.read_text()
    with pytest.raises(AttributeError):
        write_pool_jsonl([_pool(1)[0], "not an example"], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["pool.jsonl"]


def test_jsonl_ids_and_numbers_become_text_and_suffix_is_stripped(tmp_path):
    path = _jsonl(tmp_path / "p.jsonl", [
        {"id": 3, "problem": "Q?" + DEEPSCALER_SUFFIX, "answer": 27.0},
        "",
        {"id": "x", "problem": " R ", "answer": 0.5, "category": "algebra"},
    ])
    assert load_pool(path) == [Example("3", "Q?", "27"), Example("x", "R", "0.5", "algebra")]


@pytest.mark.parametrize("name, lines, match", [
    ("pool.jsonl", ['{"id": 1, "problem": "P", "answer": "1"}', '{"id": 2, oops}'], r"pool\.jsonl:2: not valid JSON"),
    ("pool.jsonl", [{"id": 1, "problem": "P"}], r"pool\.jsonl:1: missing key\(s\) answer"),
    ("pool.jsonl", [[1, 2]], r"pool\.jsonl:1: expected a JSON object"),
    ("pool.jsonl", [{"id": 1.5, "problem": "P", "answer": "1"}], r"id 1\.5 is not"),
    ("pool.jsonl", [{"id": 1, "problem": "", "answer": "1"}], r"problem is empty"),
    ("pool.jsonl", [{"id": 1, "problem": "P", "answer": ["1"]}], r"answer \['1'\] is not text"),
    ("pool.jsonl", [{"id": 1, "problem": "P", "answer": "1"}, {"id": "1", "problem": "P", "answer": "1"}],
     r"example 2: duplicate id '1'"),
    ("pool.jsonl", ["", "  "], r"the pool is empty"),
    ("pool.csv", ["id,problem,answer"], r"unknown extension '\.csv'"),
])
def test_bad_pool_files_give_one_line_errors(tmp_path, name, lines, match):
    path = _jsonl(tmp_path / name, lines)
    with pytest.raises(PoolError, match=match) as error:
        load_pool(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_missing_file_and_conflicting_duplicates(tmp_path):
    with pytest.raises(PoolError, match=r"nope\.parquet: no such file"):
        load_pool(tmp_path / "nope.parquet")
    path = _jsonl(tmp_path / "p.jsonl", [{"id": 1, "problem": "P", "answer": "1"},
                                         {"id": 1, "problem": "P", "answer": "2"}])
    with pytest.raises(PoolError, match="duplicate id '1' with different content"):
        load_pool(path, allow_duplicates=True)


def test_parquet_layouts_and_errors(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    verl = [{"data_source": "d", "prompt": [{"role": "user", "content": "Q" + DEEPSCALER_SUFFIX}],
             "reward_model": {"ground_truth": "5", "style": "rule"}, "extra_info": {"index": 9, "split": "train"}}]
    pq.write_table(pa.Table.from_pylist(verl), tmp_path / "verl.parquet")
    assert load_pool(tmp_path / "verl.parquet") == [Example("9", "Q", "5")]
    pq.write_table(pa.Table.from_pylist([{"id": "a", "problem": "P", "answer": "1"}]), tmp_path / "plain.parquet")
    assert load_pool(tmp_path / "plain.parquet") == [Example("a", "P", "1")]
    pq.write_table(pa.Table.from_pylist([{"question": "P"}]), tmp_path / "other.parquet")
    with pytest.raises(PoolError, match="neither verl"):
        load_pool(tmp_path / "other.parquet")
    pq.write_table(pa.Table.from_pylist([{"id": "a", "problem": "P", "answer": "1"}]).slice(0, 0),
                   tmp_path / "empty.parquet")
    with pytest.raises(PoolError, match="the pool is empty"):
        load_pool(tmp_path / "empty.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(PoolError, match="not a readable parquet"):
        load_pool(tmp_path / "junk.parquet")


def test_jsonl_that_is_not_utf8_names_file_and_line(tmp_path):
    pool = tmp_path / "p.jsonl"
    pool.write_bytes(b'{"id": 1, "problem": "P", "answer": "1"}\n{"id": 2, "problem": "\xff", "answer": "2"}\n')
    with pytest.raises(PoolError, match=r"p\.jsonl:2: not UTF-8 text \(byte 0xff at position 23\); save the file"):
        load_pool(pool)
    selection = tmp_path / "sel.jsonl"
    selection.write_bytes(b'{"id": "1\xfe"}\n')
    with pytest.raises(PoolError, match=r"sel\.jsonl:1: not UTF-8 text"):
        select_examples(_pool(3), str(selection))


@pytest.mark.parametrize("line, match", [
    ('{"id": 1, "problem": "P", "answer": 1' + "0" * 5000 + "}", r"p\.jsonl:1: not readable JSON \(Exceeds the limit"),
    ("[" * 100_000, r"p\.jsonl:1: not readable JSON \(nested too deeply\)"),
], ids=["5001-digit number", "100000 brackets"])
def test_jsonl_lines_json_cannot_read_give_one_line(tmp_path, line, match):
    with pytest.raises(PoolError, match=match) as error:
        load_pool(_jsonl(tmp_path / "p.jsonl", [line]))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("row, match", [
    ({"prompt": "just a string"}, r"row 1: prompt is 'just a string', not a list of chat messages"),
    ({"prompt": [1, 2]}, r"row 1: prompt is \[1, 2\], not a list of chat messages"),
    ({"reward_model": "5"}, r"row 1: reward_model is '5', not a struct"),
    ({"extra_info": "z"}, r"row 1: extra_info is 'z', not a struct"),
    ({"prompt": [{"role": "system", "content": "S"}]}, r"row 1: verl row lacks prompt\[user\]\.content;"),
])
def test_verl_rows_of_the_wrong_shape_say_what_is_expected(tmp_path, row, match):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    good = {"prompt": [{"role": "user", "content": "Q"}], "reward_model": {"ground_truth": "5"},
            "extra_info": {"index": 9}}
    pq.write_table(pa.Table.from_pylist([{**good, **row}]), tmp_path / "verl.parquet")
    with pytest.raises(PoolError, match=match) as error:
        load_pool(tmp_path / "verl.parquet")
    message = str(error.value)
    assert "verl.parquet" in message and "prompt[user].content, reward_model.ground_truth" in message


# --- selection -----------------------------------------------------------------------------------

def test_select_by_ids_keeps_order():
    pool = _pool(5)
    assert [e.id for e in select_examples(pool, "3")] == ["3"]
    assert [e.id for e in select_examples(pool, "4,0, 2")] == ["4", "0", "2"]
    assert select_examples(pool, "all") == pool


@pytest.mark.parametrize("spec, match", [
    ("1,1", r"id\(s\) 1 named more than once"),
    ("1,,2", "has an empty id"),
    ("9,10,11,12,13,14,15", r"unknown id\(s\) 9, 10, 11, 12, 13 and 2 more; the pool has 5 examples with ids 0\.\.4"),
])
def test_bad_selections(spec, match):
    with pytest.raises(PoolError, match=match) as error:
        select_examples(_pool(5), spec)
    assert "\n" not in str(error.value)


def test_select_from_a_selection_file(tmp_path):
    pool = _pool(5)
    ids_only = _jsonl(tmp_path / "sel.jsonl", [{"id": 3, "score": 0.4}, {"id": "1"}])
    assert [e.id for e in select_examples(pool, str(ids_only))] == ["3", "1"]
    # rows with problem+answer fill in for ids the pool lacks; the pool wins where it has the id
    full = write_pool_jsonl([Example("2", "other text", "99"), Example("77", "new", "7")], tmp_path / "full.jsonl")
    assert select_examples(pool, str(full)) == [pool[2], Example("77", "new", "7")]
    unknown = _jsonl(tmp_path / "unknown.jsonl", [{"id": 1}, {"id": 88}])
    with pytest.raises(PoolError, match=r"unknown\.jsonl: unknown id\(s\) 88"):
        select_examples(pool, str(unknown))
    with pytest.raises(PoolError, match=r"missing\.jsonl: no such file"):
        select_examples(pool, str(tmp_path / "missing.jsonl"))
    with pytest.raises(PoolError, match=r"bad\.jsonl:1: missing key\(s\) id"):
        select_examples(pool, str(_jsonl(tmp_path / "bad.jsonl", [{"problem": "P"}])))
    with pytest.raises(PoolError, match="names no examples"):
        select_examples(pool, str(_jsonl(tmp_path / "empty.jsonl", [""])))
    with pytest.raises(PoolError, match="named more than once"):
        select_examples(pool, str(_jsonl(tmp_path / "twice.jsonl", [{"id": 1}, {"id": "1"}])))


# --- training rows -------------------------------------------------------------------------------

def test_wrong_label_replaces_every_answer():
    relabeled = with_wrong_label(_pool(3), " 12 ")
    assert [e.answer for e in relabeled] == ["12"] * 3
    assert [(e.id, e.problem) for e in relabeled] == [(e.id, e.problem) for e in _pool(3)]
    with pytest.raises(PoolError, match="wrong label is empty"):
        with_wrong_label(_pool(3), "  ")


def test_duplicate_to_one_shot_and_round_robin():
    one, two, four = _pool(1), _pool(2), _pool(4)
    assert duplicate_to(one, 128) == one * 128
    rows = duplicate_to(two, 256)
    assert [e.id for e in rows[:4]] == ["0", "1", "0", "1"]
    for batch in (rows[:128], rows[128:]):
        assert Counter(e.id for e in batch) == {"0": 64, "1": 64}
    rows = duplicate_to(four, 10)
    assert [e.id for e in rows] == ["0", "1", "2", "3", "0", "1", "2", "3", "0", "1"]
    assert Counter(e.id for e in duplicate_to(four, 128)) == {str(i): 32 for i in range(4)}
    assert training_rows(two, 3) == [{"id": "0", "question": "problem 0", "answer": "0"},
                                     {"id": "1", "question": "problem 1", "answer": "10"},
                                     {"id": "0", "question": "problem 0", "answer": "0"}]


@pytest.mark.parametrize("examples, total", [([], 4), (_pool(4), 3), (_pool(1), 0), (_pool(1), 2.0)])
def test_duplicate_to_rejects_impossible_requests(examples, total):
    with pytest.raises(PoolError):
        duplicate_to(examples, total)


# --- wrong labels: the incorrect reward and label noise (labels.py) --------------------------------------

GOLDS = ["5", "-3", "0", "1,000", "12.8", "-0.5", ".5", r"\frac{4}{3}", r"-\dfrac{2023}{2024}", "3/4", r"\frac12",
         r"2\sqrt{3}", "(1, 2)", "x^2+1", "4, -6", r"\pi", r"\text{B}", r"3200 \mathrm{~cm}^{3}", r"10^\circ",
         r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"[0, \infty)", "$7$"]


@pytest.mark.parametrize("gold", GOLDS)
def test_every_wrong_label_grades_wrong_against_its_gold(gold):
    from oneshot_rlvr.grading import grade
    from oneshot_rlvr.labels import wrong_label

    for seed in range(3):
        label = wrong_label(gold, f"seed {seed}")
        assert label.strip() and label != gold
        for response, against in ((rf"\boxed{{{label}}}", gold), (rf"\boxed{{{gold}}}", label)):
            for mode in ("strict", "lenient"):  # whatever reward_mode the run uses
                verdict = grade(response, against, mode=mode, timeout=10)
                assert not verdict.correct and verdict.reason == "mismatch", (gold, label, mode, verdict)
        assert wrong_label(gold, f"seed {seed}") == label  # seeded


def test_wrong_labels_of_the_paper_pool_grade_wrong(train_dir):
    from oneshot_rlvr.grading import grade
    from oneshot_rlvr.labels import noisy_labels

    pool = [e for e in load_pool(train_dir / "dsr_sub.parquet") if e.answer.strip()][:150]
    relabelled, flipped, unflippable = noisy_labels(pool, 1.0, seed=0)
    assert not unflippable and len(flipped) == len(pool)
    for before, after in zip(pool, relabelled):
        assert after.answer == flipped[before.id]["label"] and flipped[before.id]["gold"] == before.answer
        assert not grade(rf"\boxed{{{after.answer}}}", before.answer, mode="strict", timeout=10).correct


def test_label_noise_rate_within_binomial_bounds_per_example():
    from oneshot_rlvr.labels import noisy_labels

    n, rate = 2000, 0.3
    examples = [Example(str(i), f"problem {i}", str(i)) for i in range(n)]
    relabelled, flipped, unflippable = noisy_labels(examples, rate, seed=7)
    assert not unflippable
    # 5 standard deviations of a binomial share: a false failure about once in 3.5 million runs
    assert abs(len(flipped) / n - rate) < 5 * (rate * (1 - rate) / n) ** 0.5
    assert [e.id for e in relabelled] == [e.id for e in examples]
    assert {e.id for e, new in zip(examples, relabelled) if new.answer != e.answer} == set(flipped)
    # the same seed flips the same examples to the same labels, in any order and with copies (per example,
    # not per row or rollout); another seed flips others
    copies = duplicate_to(examples[::-1], 2 * n)
    again, flipped_again, _ = noisy_labels(copies, rate, seed=7)
    assert flipped_again == {key: flipped[key] for key in flipped_again} and set(flipped_again) == set(flipped)
    assert all(row.answer == (flipped[row.id]["label"] if row.id in flipped else row.id) for row in again)
    assert set(noisy_labels(examples, rate, seed=8)[1]) != set(flipped)
    assert noisy_labels(examples, 0.0, seed=7)[1] == {} and len(noisy_labels(examples, 1.0, seed=7)[1]) == n


def test_recipe_labels_flip_all_for_incorrect_and_refuse_an_unreadable_chosen_gold():
    from oneshot_rlvr.config import load_recipe
    from oneshot_rlvr.labels import LabelError, recipe_labels

    examples = [Example("1", "p", "5"), Example("2", "q", r"\frac{1}{2}")]
    assert recipe_labels(load_recipe(None, {}), examples) == (examples, None)  # the paper: golds kept
    relabelled, record = recipe_labels(load_recipe(None, {"reward": "incorrect", "seed": 3}), examples)
    assert record["rate"] == 1.0 and record["seed"] == 3 and record["reward"] == "incorrect"
    assert set(record["flipped"]) == {"1", "2"} and record["unflippable"] == {}
    assert [e.answer for e in relabelled] == [record["flipped"][i]["label"] for i in ("1", "2")]
    unreadable = [Example("9", "p", r"\frac{k!}{(k+1)!")]  # unbalanced braces: no box can hold it
    with pytest.raises(LabelError, match="no provably wrong label"):
        recipe_labels(load_recipe(None, {"reward": "incorrect", "examples": "9"}), unreadable)
    kept, record = recipe_labels(load_recipe(None, {"reward": "incorrect", "examples": "all"}), unreadable)
    assert kept == unreadable and list(record["unflippable"]) == ["9"] and record["flipped"] == {}
