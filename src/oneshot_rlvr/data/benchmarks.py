"""Benchmark registry: where each benchmark's question and gold answer live in its rows.

Local layout (as ``../shared/data/benchmarks``): ``DATA_DIR/NAME/test.jsonl`` (or ``test.parquet``). Each
registered benchmark (``BENCHMARKS``; ``PAPER_SIX`` are the paper's) reads its question and gold answer from
the fields the Qwen2.5-Math evaluation suite uses (e.g. minerva_math's last \\boxed{...} of the solution,
gsm8k's number after "####").

Any other NAME is a **local benchmark**: ``DATA_DIR/NAME/test.jsonl`` with rows ``{id, question (or
problem), answer}`` and optional ``category`` / ``level`` (the toy world's held-out sets are written so);
it has no Hub copy.
"""

from __future__ import annotations

import ast
import math
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..grading.extract import last_boxed
from ..jsonl import read_jsonl
from .hub import load_hub_dataset

PAPER_SIX = ("math500", "aime24", "amc23", "minerva_math", "olympiadbench", "aime25")


@dataclass(frozen=True)
class Problem:
    """One benchmark row: ``id`` (stable within the benchmark), ``question``, gold ``answer``, ``meta``."""

    benchmark: str
    id: str
    question: str
    answer: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read (the message says which file and how to fix it)."""


def _number_text(value) -> str:
    """27.0 → "27", 0.5 → "0.5"; strings pass through."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _text(row: dict, key: str) -> str:
    """Text field ``key`` (a question, a solution): KeyError when missing, BenchmarkError when not text."""
    if not isinstance(row[key], str):
        raise BenchmarkError(f"{key} is {reprlib.repr(row[key])}, not text; give it as a string")
    return row[key]


def _answer_text(value, key: str) -> str:
    """A gold answer as text: strings, or numbers as the real files hold them (amc23's 27.0 → "27")."""
    if (isinstance(value, bool) or not isinstance(value, (str, int, float))
            or isinstance(value, float) and not math.isfinite(value)):
        raise BenchmarkError(f"{key} is {reprlib.repr(value)}, not text or a number; give the gold answer "
                             f"as a string")
    return _number_text(value)


def _gsm8k_answer(row: dict) -> str:
    return _answer_text(row["answer"], "answer").split("####")[-1].strip().replace(",", "")


def _asdiv_answer(row: dict) -> str:
    return re.sub(r"\s*\([^()]*\)\s*$", "", _answer_text(row["answer"], "answer")).strip()


def _olympiad_answer(row: dict) -> str:
    answers = row["final_answer"]
    if isinstance(answers, str):
        try:
            parsed = ast.literal_eval(answers)  # gold data, a literal only; never model output
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            parsed = None
        answers = parsed if isinstance(parsed, (list, tuple)) else [answers]
    if not isinstance(answers, (list, tuple)):
        answers = [answers]
    return _answer_text(answers[0], "final_answer[0]") if len(answers) else ""


def _minerva_answer(row: dict) -> str:
    if "solution" not in row and "answer" in row:  # Hub copies carry the answer separately
        return _answer_text(row["answer"], "answer")
    boxed = last_boxed(_text(row, "solution"))
    return boxed.strip() if boxed is not None else ""


@dataclass(frozen=True)
class BenchmarkSpec:
    """How to read one benchmark: question and gold answer from a row, and its Hub id."""

    name: str
    question: Callable[[dict], str]
    answer: Callable[[dict], str]
    hub_id: str | None = None
    hub_config: str | None = None
    hub_split: str = "test"


def _field(name: str, *alternatives: str, answer: bool = False) -> Callable[[dict], str]:
    """Read ``name`` (or, in Hub copies that name it differently, the first alternative present).

    A question must be text; a gold answer (``answer=True``) may also be a number.
    """

    def read(row: dict) -> str:
        for key in (name, *alternatives):
            if key in row:
                return _answer_text(row[key], key) if answer else _text(row, key).strip()
        raise KeyError(name)

    return read


def _answer(name: str) -> Callable[[dict], str]:
    return _field(name, answer=True)


BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in [
        BenchmarkSpec("math500", _field("problem"), _answer("answer"), "HuggingFaceH4/MATH-500"),
        BenchmarkSpec("aime24", _field("problem"), _answer("answer"), "HuggingFaceH4/aime_2024", None, "train"),
        BenchmarkSpec("aime25", _field("problem", "question"), _answer("answer"), "math-ai/aime25"),
        BenchmarkSpec("amc23", _field("problem", "question"), _answer("answer"), "math-ai/amc23"),
        BenchmarkSpec("minerva_math", _field("problem", "question"), _minerva_answer, "math-ai/minervamath"),
        BenchmarkSpec("olympiadbench", _field("question", "problem"), _olympiad_answer, "math-ai/olympiadbench"),
        BenchmarkSpec("gsm8k", _field("question"), _gsm8k_answer, "openai/gsm8k", "main"),
        BenchmarkSpec("svamp", lambda r: f"{_text(r, 'Body').strip()} {_text(r, 'Question').strip()}",
                      _answer("Answer")),
        BenchmarkSpec("asdiv", lambda r: f"{_text(r, 'body').strip()} {_text(r, 'question').strip()}",
                      _asdiv_answer),
        BenchmarkSpec("mawps", _field("input"), _answer("target")),
    ]
}
BENCHMARK_SETS = {"paper6": PAPER_SIX, "all": tuple(BENCHMARKS)}  # names that stand for several benchmarks


def _read_rows(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as error:
            raise BenchmarkError(f"{path}: reading parquet needs pyarrow (pip install pyarrow)") from error
        try:
            return pq.read_table(path).to_pylist()
        except Exception as error:  # noqa: BLE001  corrupt or not parquet: one clear line
            raise BenchmarkError(f"{path}: not a readable parquet file ({type(error).__name__}: "
                                 f"{str(error)[:120]}); regenerate it or write the benchmark as test.jsonl") from None
    rows = []
    for number, row in read_jsonl(path, blank_lines="skip", cut_last_line="read", error=BenchmarkError):
        if not isinstance(row, dict):
            raise BenchmarkError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}; "
                                 f"write one JSON object per line")
        rows.append(row)
    return rows


def benchmark_file(name: str, data_dir: str | Path) -> Path:
    folder = Path(data_dir) / name
    for candidate in ("test.jsonl", "test.parquet"):
        if (folder / candidate).is_file():
            return folder / candidate
    raise BenchmarkError(f"{folder}: no test.jsonl or test.parquet; point --data-dir at a folder laid out "
                         f"as NAME/test.jsonl")


def _hub_rows(spec: BenchmarkSpec) -> tuple[str, list[dict]]:
    """Rows from the Hugging Face Hub through ``datasets`` (the online path; not reachable in CI)."""
    if spec.hub_id is None:
        raise BenchmarkError(f"{spec.name} has no Hub copy registered; pass --data-dir with NAME/test.jsonl")
    dataset = load_hub_dataset(spec.hub_id, spec.hub_config, spec.hub_split, BenchmarkError,
                               "pass --data-dir with a local copy")
    return f"hf://{spec.hub_id}", dataset.to_list()


def _local_benchmark(name: str, data_dir: str | Path) -> list[Problem]:
    path = benchmark_file(name, data_dir)
    problems = []
    for index, row in enumerate(_read_rows(path)):
        question, answer = row.get("question", row.get("problem")), row.get("answer")
        if (not isinstance(question, str) or isinstance(answer, bool) or not isinstance(answer, (str, int, float))
                or not _number_text(answer)):
            raise BenchmarkError(f"{path}: row {index + 1} needs a question (or problem) and a non-empty answer "
                                 f"(text or a number)")
        meta = {k: row[k] for k in ("category", "level", "subject") if k in row}
        problems.append(Problem(name, str(row.get("id", index)), question, _number_text(answer), meta))
    return problems


def load_benchmark(name: str, data_dir: str | Path | None) -> list[Problem]:
    """All problems of benchmark ``name``, in file order.

    From ``data_dir/NAME/test.{jsonl,parquet}``; with ``data_dir=None``, from the Hub id in ``BENCHMARKS``.
    """
    if name not in BENCHMARKS:
        if data_dir is None or not (Path(data_dir) / name).is_dir():
            raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}, or a folder "
                                 f"NAME/test.jsonl under --data-dir")
        return _local_benchmark(name, data_dir)
    spec = BENCHMARKS[name]
    if data_dir is None:
        path, rows = _hub_rows(spec)
    else:
        path = benchmark_file(name, data_dir)
        rows = _read_rows(path)
    problems = []
    for index, row in enumerate(rows):
        try:
            question, answer = spec.question(row), spec.answer(row)
        except KeyError as error:
            raise BenchmarkError(f"{path}: row {index + 1} lacks the field {error} that {name} needs") from None
        except BenchmarkError as error:  # a field of the wrong type
            raise BenchmarkError(f"{path}: row {index + 1}: {error}") from None
        row_id = row.get("unique_id", row.get("id", row.get("idx", index)))
        meta = {k: row[k] for k in ("subject", "level", "type", "subfield") if k in row}
        problems.append(Problem(name, str(row_id), question, answer, meta))
    return problems
