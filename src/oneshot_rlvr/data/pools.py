"""Training pools: the examples RLVR trains on, how to pick some, and how to fill a run with them.

``load_pool`` reads verl parquet (the paper's DSR-sub and π-example files), plain JSONL ``{id, problem, answer,
category?}`` (or parquet with those columns) and Hub datasets ``hub:OWNER/NAME[:SPLIT]`` (``PAPER_POOL``: DSR-sub
as the paper's authors published it). A selection file (written by ``oneshot-rlvr select --out FILE``, read by
``select_examples``) is the same plain JSONL, one row per selected example in rank order; ``write_pool_jsonl``
writes it.

Ids are always strings ("124"). The DeepScaleR instruction suffix (``DEEPSCALER_SUFFIX``) is stripped
from every problem so that a prompt template can add its own. An empty gold answer is kept, as the
paper's data has one (DSR-sub example 265: no response matches it, so it is never rewarded).
Duplicate ids are an error by default; the paper's training files (one example repeated 128 times) load
with ``allow_duplicates=True``, and rows sharing an id must still be identical.
"""

from __future__ import annotations

import os
import re
import reprlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from ..cliutil import json_line, why_not_a_file
from ..jsonl import read_jsonl
from .prompts import DEEPSCALER_SUFFIX

HUB_PREFIX = "hub:"  # explicit, so that a mistyped local path is never sent to the Hub
PAPER_POOL = "hub:ypwang61/One-Shot-RLVR-Datasets:dsr_sub"  # the paper's DSR-sub, as its authors published it


@dataclass(frozen=True)
class Example:
    """One training example: ``id`` (unique in its pool), bare ``problem``, gold ``answer``, ``category``."""

    id: str
    problem: str
    answer: str
    category: str | None = None


class PoolError(ValueError):
    """A pool, selection or training request that cannot be honoured (one line: what, where, how to fix)."""


def _strip_suffix(problem: str) -> str:
    problem = problem.strip()
    suffix = DEEPSCALER_SUFFIX.strip()
    return problem[: -len(suffix)].rstrip() if problem.endswith(suffix) else problem


def _text(value) -> str | None:
    """Field text: strings stripped, ints as is, integer floats without ".0"; None/bools/containers → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, (int, str)):
        return str(value).strip()
    return None


def _id_text(value) -> str | None:
    """Ids are ints or strings, kept as strings ("124"); anything else (or an empty string) → None."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return str(value).strip() or None


def _plain_example(row, where: str) -> Example:
    if not isinstance(row, dict):
        raise PoolError(f"{where}: expected a JSON object {{id, problem, answer}}, got {type(row).__name__}")
    missing = [key for key in ("id", "problem", "answer") if row.get(key) is None]
    if missing:
        raise PoolError(f"{where}: missing key(s) {', '.join(missing)}; every row needs id, problem, answer")
    example_id, problem, answer = _id_text(row["id"]), _text(row["problem"]), _text(row["answer"])
    if not example_id:
        raise PoolError(f"{where}: id {row['id']!r} is not a non-empty int or string; use ids such as 124 or \"124\"")
    if not problem:
        raise PoolError(f"{where}: problem is empty or not text ({row['problem']!r}); give the question as a string")
    if answer is None:
        raise PoolError(f"{where}: answer {row['answer']!r} is not text or a number; give it as a string")
    category = row.get("category")
    return Example(example_id, _strip_suffix(problem), answer, None if category is None else str(category))


def _verl_example(row: dict, where: str) -> Example:
    layout = "it needs prompt[user].content, reward_model.ground_truth and extra_info.index"
    prompt, reward, extra = row["prompt"], row["reward_model"], row["extra_info"]
    if not isinstance(prompt, list) or not all(isinstance(message, dict) for message in prompt):
        raise PoolError(f"{where}: prompt is {reprlib.repr(prompt)}, not a list of chat messages "
                        f"{{role, content}}; {layout}")
    for name, value in (("reward_model", reward), ("extra_info", extra)):
        if not isinstance(value, dict):
            raise PoolError(f"{where}: {name} is {reprlib.repr(value)}, not a struct; {layout}")
    content = next((message.get("content") for message in prompt if message.get("role") == "user"), None)
    fields = {"prompt[user].content": content, "reward_model.ground_truth": reward.get("ground_truth"),
              "extra_info.index": extra.get("index")}
    missing = [name for name, value in fields.items() if value is None]
    if missing:
        raise PoolError(f"{where}: verl row lacks {', '.join(missing)}; {layout}")
    return _plain_example({"id": extra["index"], "problem": content, "answer": reward["ground_truth"]}, where)


def _read_parquet(path: Path) -> list[Example]:
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise PoolError(f"{path}: reading parquet needs pyarrow (pip install pyarrow)") from error
    try:
        table = pq.read_table(path)
    except Exception as error:  # noqa: BLE001  corrupt or not parquet: one clear line
        raise PoolError(f"{path}: not a readable parquet file ({type(error).__name__}: {str(error)[:120]}); "
                        f"regenerate it or use JSONL") from error
    return _table_examples(table.to_pylist(), table.column_names, path)


def _table_examples(rows: list[dict], columns, where) -> list[Example]:
    """Examples from the rows of a table (parquet, Hub dataset) in the layout its ``columns`` show."""
    columns = set(columns)
    if {"prompt", "reward_model", "extra_info"} <= columns:
        read = _verl_example
    elif {"id", "problem", "answer"} <= columns:
        read = _plain_example
    else:
        raise PoolError(f"{where}: columns {sorted(columns)} are neither verl (prompt, reward_model, extra_info) "
                        f"nor plain (id, problem, answer); convert it to one of these layouts")
    return [read(row, f"{where}: row {number}") for number, row in enumerate(rows, start=1)]


def _read_hub(spec: str) -> tuple[str, list[Example]]:
    """``(where, examples)`` of ``hub:OWNER/NAME[:SPLIT]`` (split ``train`` when left out), read through
    ``datasets``: cached, and from the HF cache only when the Hub gives no answer (``data.hub``)."""
    from ..models import _HUB_ID
    from .hub import hub_or_cache, load_hub_dataset

    dataset_id, _, split = spec[len(HUB_PREFIX):].partition(":")
    split = split or "train"
    if not _HUB_ID.match(dataset_id) or not re.fullmatch(r"[\w.-]+", split):
        raise PoolError(f"{spec}: not a Hub dataset of the form {HUB_PREFIX}OWNER/NAME[:SPLIT]; write e.g. "
                        f"{PAPER_POOL}")
    with hub_or_cache(PoolError):
        dataset = load_hub_dataset(dataset_id, None, split, PoolError, "check the id and the split (the dataset "
                                   "card lists them), or give a local .parquet / .jsonl file")
    where = f"{HUB_PREFIX}{dataset_id}:{split}"
    return where, _table_examples(dataset.to_list(), dataset.column_names, where)


def _read_jsonl(path: Path, require=("id", "problem", "answer")) -> list[dict]:
    rows = []
    for number, row in read_jsonl(path, blank_lines="skip", cut_last_line="read", error=PoolError):
        if not isinstance(row, dict):
            raise PoolError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}; "
                            f"write one {{{', '.join(require)}}} object per line")
        missing = [key for key in require if row.get(key) is None]
        if missing:
            raise PoolError(f"{path}:{number}: missing key(s) {', '.join(missing)}; "
                            f"every line needs {', '.join(require)}")
        rows.append((number, row))
    return rows


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise PoolError(f"{path}: {why_not_a_file(path)}; check the path (DSR-sub is train/dsr_sub.parquet in the "
                        f"shared data, {PAPER_POOL} on the Hub)")
    if path.suffix not in (".parquet", ".jsonl"):
        raise PoolError(f"{path}: unknown extension {path.suffix!r}; give a .parquet (verl) or .jsonl file")


def load_pool(path: str | Path, allow_duplicates: bool = False) -> list[Example]:
    """All examples in ``path`` (verl parquet, plain JSONL, or a Hub dataset ``hub:OWNER/NAME[:SPLIT]``),
    in file order.

    ``allow_duplicates=True`` keeps repeated rows (the paper's ``pi*_r128.parquet`` training files);
    rows that share an id must then be identical.
    """
    if isinstance(path, str) and path.strip().startswith(HUB_PREFIX):
        path, examples = _read_hub(path.strip())
    else:
        path = Path(path)
        _check_file(path)
        if path.suffix == ".parquet":
            examples = _read_parquet(path)
        else:
            examples = [_plain_example(row, f"{path}:{number}") for number, row in _read_jsonl(path)]
    if not examples:
        raise PoolError(f"{path}: the pool is empty; it needs at least one example")
    seen: dict[str, Example] = {}
    for number, example in enumerate(examples, start=1):
        first = seen.setdefault(example.id, example)
        if first is not example and (not allow_duplicates or first != example):
            why = "with different content" if allow_duplicates else "(pass allow_duplicates=True for training files)"
            raise PoolError(f"{path}: example {number}: duplicate id {example.id!r} {why}; ids must be unique")
    return examples


def _id_range(pool: list[Example]) -> str:
    ids = [example.id for example in pool]
    if all(i.lstrip("-").isdigit() for i in ids):
        return f"{min(ids, key=int)}..{max(ids, key=int)}"
    return f"{ids[0]}..{ids[-1]} (file order)"


def _is_selection_file(spec: str) -> bool:
    return spec.endswith(".jsonl") or Path(spec).is_file()


def select_examples(pool: list[Example], spec: str) -> list[Example]:
    """The examples ``spec`` names, in the order it names them.

    ``spec``: ``"all"`` (the whole pool), ids ``"124"`` / ``"124,682"``, or a selection JSONL (rows with at
    least ``id``; a row carrying problem and answer is used as is when the pool lacks its id).
    """
    spec = spec.strip()
    if not pool:
        raise PoolError("the pool is empty; load one with load_pool (e.g. train/dsr_sub.parquet)")
    if spec == "all":
        return list(pool)
    by_id: dict[str, Example] = {}
    for example in pool:
        by_id.setdefault(example.id, example)
    fallback: dict[str, Example] = {}
    if _is_selection_file(spec):
        path = Path(spec)
        _check_file(path)
        if path.suffix != ".jsonl":
            raise PoolError(f"{path}: a selection file is JSONL (as `oneshot-rlvr select --out FILE.jsonl` writes)")
        ids, where = [], {}
        for number, row in _read_jsonl(path, require=("id",)):
            example_id = _id_text(row["id"])
            if not example_id:
                raise PoolError(f"{path}:{number}: id {row['id']!r} is not a non-empty int or string")
            ids.append(example_id)
            where[example_id] = f"{path}:{number}"
            if row.get("problem") is not None and row.get("answer") is not None:
                fallback.setdefault(example_id, _plain_example(row, f"{path}:{number}"))
        if not ids:
            raise PoolError(f"{path}: the selection file names no examples; write one {{id, ...}} row per example")
        source = str(path)
    else:
        ids = [token.strip() for token in spec.split(",")]
        if not all(ids):
            raise PoolError(f"selection {spec!r} has an empty id; write ids separated by commas, such as 124,682")
        source = f"selection {spec!r}"
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise PoolError(f"{source}: id(s) {', '.join(repeated)} named more than once; name each example once "
                        f"(duplicate_to repeats them for training)")
    unknown = [i for i in ids if i not in by_id and i not in fallback]
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise PoolError(f"{source}: unknown id(s) {', '.join(unknown[:5])}{more}; the pool has {len(pool)} "
                        f"examples with ids {_id_range(pool)}; use ids from the pool or 'all'")
    return [by_id.get(i) or fallback[i] for i in ids]


def with_wrong_label(examples: list[Example], label: str) -> list[Example]:
    """The same examples with every gold answer replaced by ``label`` (the paper's wrong-label ablation)."""
    label = str(label).strip()
    if not label:
        raise PoolError("the wrong label is empty; pass a non-empty answer such as 12 or \\frac{1}{2}")
    return [replace(example, answer=label) for example in examples]


def duplicate_to(examples: list[Example], total_rows: int) -> list[Example]:
    """``total_rows`` examples cycling through ``examples`` in order: e0, e1, ..., ek, e0, e1, ...

    As in the paper (128 copies of π1 per step), 1-shot is the example repeated. Few-shot is
    round-robin, so any ``total_rows`` that is a multiple of ``len(examples)`` (e.g. a batch of 128 with
    2, 4 or 16 examples) holds each example equally often, and so does every aligned window of that
    size (each consecutive batch when the batch size is a multiple of the example count). Otherwise the
    first ``total_rows % len(examples)`` examples get one extra copy.
    """
    if not examples:
        raise PoolError("no examples to duplicate; select at least one (e.g. --examples 124)")
    if isinstance(total_rows, bool) or not isinstance(total_rows, int) or total_rows < len(examples):
        raise PoolError(f"total_rows={total_rows!r} must be an integer >= the {len(examples)} example(s), "
                        f"or some would never be trained on; use e.g. a multiple of the batch size")
    return [examples[row % len(examples)] for row in range(total_rows)]


def training_rows(examples: list[Example], total_rows: int) -> list[dict]:
    """Dataset rows ``{"id", "question", "answer"}`` for ``duplicate_to(examples, total_rows)``."""
    return [{"id": e.id, "question": e.problem, "answer": e.answer} for e in duplicate_to(examples, total_rows)]


def write_pool_jsonl(examples: list[Example], path: str | Path) -> Path:
    """Write ``examples`` as plain JSONL ``{id, problem, answer[, category]}`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            for example in examples:
                row = {"id": example.id, "problem": example.problem, "answer": example.answer}
                if example.category is not None:
                    row["category"] = example.category
                handle.write(json_line(row))
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path
