import json

import pytest

from oneshot_rlvr.data.benchmarks import BENCHMARKS, PAPER_SIX, BenchmarkError, load_benchmark


def _write(tmp_path, name, rows):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


@pytest.mark.parametrize(
    "name, row, question, answer",
    [
        ("math500", {"problem": "P", "answer": "\\frac{1}{2}", "unique_id": "a/1"}, "P", "\\frac{1}{2}"),
        ("amc23", {"problem": "P", "answer": 27.0}, "P", "27"),
        ("minerva_math", {"problem": "P", "solution": "x \\boxed{1} then \\boxed{4.5e33}"}, "P", "4.5e33"),
        ("olympiadbench", {"question": "Q", "final_answer": ["$69$,$84$", "x"]}, "Q", "$69$,$84$"),
        ("olympiadbench", {"question": "Q", "final_answer": "['$\\\\frac{1}{2}$']"}, "Q", "$\\frac{1}{2}$"),
        ("gsm8k", {"question": "Q", "answer": "work <<1+1=2>>\n#### 1,234"}, "Q", "1234"),
        ("svamp", {"Body": "B.", "Question": "Q?", "Answer": 145.0}, "B. Q?", "145"),
        ("asdiv", {"body": "B.", "question": "Q?", "answer": "9 (apples)"}, "B. Q?", "9"),
        ("asdiv", {"body": "B.", "question": "Q?", "answer": "3:4"}, "B. Q?", "3:4"),
        ("mawps", {"input": "Q", "target": 0.5}, "Q", "0.5"),
    ],
)
def test_gold_answer_rules(tmp_path, name, row, question, answer):
    [problem] = load_benchmark(name, _write(tmp_path, name, [row]))
    assert (problem.question, problem.answer) == (question, answer)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load_benchmark("nope", tmp_path)
    with pytest.raises(BenchmarkError, match="no test.jsonl"):
        load_benchmark("math500", tmp_path)
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n{broken\n')
    with pytest.raises(BenchmarkError, match=r"test.jsonl:2: not valid JSON"):
        load_benchmark("gsm8k", tmp_path)
    (folder / "test.jsonl").write_text('{"question": "q"}\n')
    with pytest.raises(BenchmarkError, match="row 1 lacks the field 'answer'"):
        load_benchmark("gsm8k", tmp_path)


def test_real_files_load_with_expected_sizes(benchmark_dir):
    sizes = {"math500": 500, "aime24": 30, "aime25": 30, "amc23": 40, "minerva_math": 272,
             "olympiadbench": 675, "gsm8k": 1319, "svamp": 1000, "asdiv": 2215, "mawps": 2065}
    assert set(PAPER_SIX) <= set(BENCHMARKS)
    for name, size in sizes.items():
        problems = load_benchmark(name, benchmark_dir)
        assert len(problems) == size, name
        assert all(p.answer for p in problems), name


@pytest.mark.parametrize("name, row, answer", [
    ("gsm8k", {"question": "Q", "answer": 5}, "5"),  # a copy holding the bare number
    ("math500", {"problem": "P", "answer": 7}, "7"),
    ("asdiv", {"body": "B.", "question": "Q?", "answer": 9.0}, "9"),
    ("olympiadbench", {"question": "Q", "final_answer": [2.5]}, "2.5"),
])
def test_numeric_gold_answers_load_as_text(tmp_path, name, row, answer):
    [problem] = load_benchmark(name, _write(tmp_path, name, [row]))
    assert problem.answer == answer


@pytest.mark.parametrize("name, line, match", [
    ("svamp", {"Body": 5, "Question": "Q?", "Answer": 1}, r"test\.jsonl: row 1: Body is 5, not text; give it as a"),
    ("math500", {"problem": ["P"], "answer": "1"}, r"row 1: problem is \['P'\], not text"),
    ("math500", {"problem": "P", "answer": [1]}, r"row 1: answer is \[1\], not text or a number; give the gold"),
    ("gsm8k", {"question": "Q", "answer": None}, r"row 1: answer is None, not text or a number"),
    ("minerva_math", {"problem": "P", "solution": 5}, r"row 1: solution is 5, not text"),
    ("olympiadbench", {"question": "Q", "final_answer": [{"a": 1}]}, r"row 1: final_answer\[0\] is \{'a': 1\}"),
    ("math500", 5, r"test\.jsonl:1: expected a JSON object, got int; write one JSON object per line"),
    ("mybench", [1, 2], r"test\.jsonl:1: expected a JSON object, got list"),
    ("mybench", {"question": "Q", "answer": {"x": 1}}, r"row 1 needs a question \(or problem\) and a non-empty"),
])
def test_rows_of_the_wrong_shape_give_one_line_naming_file_and_row(tmp_path, name, line, match):
    with pytest.raises(BenchmarkError, match=match) as error:
        load_benchmark(name, _write(tmp_path, name, [line]))
    assert "\n" not in str(error.value) and str(tmp_path / name / "test.jsonl") in str(error.value)


def test_unreadable_files_name_the_file_and_the_fix(tmp_path):
    folder = tmp_path / "math500"
    folder.mkdir()
    (folder / "test.jsonl").write_bytes(b'{"problem": "\xff", "answer": "1"}\n')
    with pytest.raises(BenchmarkError, match=r"math500/test\.jsonl:1: not UTF-8 text \(byte 0xff at position 14\); "
                                             r"save the file as UTF-8"):
        load_benchmark("math500", tmp_path)
    (folder / "test.jsonl").unlink()
    (folder / "test.parquet").write_text("not parquet")
    with pytest.raises(BenchmarkError, match=r"math500/test\.parquet: not a readable parquet file \(.*\); "
                                             r"regenerate it or write the benchmark as test\.jsonl$"):
        load_benchmark("math500", tmp_path)
