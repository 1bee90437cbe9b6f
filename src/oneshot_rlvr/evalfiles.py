"""An evaluation run's files read back for ``oneshot-rlvr eval --regrade``, checked before any grading.

``samples.jsonl``: one JSON object per line with the fields ``eval`` writes (``SAMPLE_FIELDS``: benchmark,
id, sample, response, gold, length, finish_reason; ``meta`` optional); the verdict fields are recomputed, so
they are not checked. ``summary.json`` (optional): a JSON object; only its ``config`` and timing are reused.
A damaged file raises ``CommandError`` with one line: which file and line, which field, what type it needs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .cliutil import CommandError, why_not_a_file
from .jsonl import JsonlError, read_jsonl

_NOT_EVAL = "not a samples file of `oneshot-rlvr eval`"
_FIX = "fix that line, or re-run `oneshot-rlvr eval`"


def _whole(value) -> bool:  # that fits in 64 bits: a 400-digit length would overflow the mean
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _text(value) -> bool:
    return isinstance(value, str)


def _gold(value) -> bool:  # a finite number is fine too: the grader compares its text (NaN is no JSON to write)
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and bool(str(value).strip())


# field → (check, what it must be); grouping by id, sorting by sample and summing lengths need these types
SAMPLE_FIELDS = {
    "benchmark": (_text, "a string"),
    "id": (lambda value: isinstance(value, (str, int)) and not isinstance(value, bool), "a string or a whole number"),
    "sample": (_whole, "a whole number from 0 to 2^63 − 1"),
    "response": (_text, "a string"),
    "gold": (_gold, "a non-empty string"),
    "length": (_whole, "a whole number from 0 to 2^63 − 1"),
    "finish_reason": (_text, "a string"),
}


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int) and abs(value) >= 10**20:  # shown short: the line stays readable
        return f"a number of {len(str(abs(value)))} digits"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string" if value.strip() else "an empty string"
    return "an array" if isinstance(value, list) else "an object"


def _check_sample(sample, where: str) -> None:
    if not isinstance(sample, dict):
        raise CommandError(f"{where}: expected a JSON object, got {_json_type(sample)}; {_NOT_EVAL}")
    missing = [key for key in SAMPLE_FIELDS if key not in sample]
    if missing:
        raise CommandError(f"{where}: missing {', '.join(missing)}; {_NOT_EVAL}")
    for key, (check, expected) in SAMPLE_FIELDS.items():
        if not check(sample[key]):
            raise CommandError(f'{where}: "{key}" must be {expected}, got {_json_type(sample[key])}; {_FIX}')
    if not isinstance(sample.get("meta", {}), dict):
        raise CommandError(f'{where}: "meta" must be an object, got {_json_type(sample["meta"])}; {_FIX}')


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{path}: cannot read ({error.strerror or error}); check the file and its "
                           f"permissions") from None


def _parse(raw: bytes, where: str, fix: str):
    """One JSON value from UTF-8 ``raw``; anything else is a CommandError at ``where`` (file, or file:line)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CommandError(f"{where}: not UTF-8 text ({error.reason}); {fix}") from None
    except json.JSONDecodeError as error:
        line = f" at line {error.lineno}" if raw.count(b"\n") > 1 else ""
        raise CommandError(f"{where}: not valid JSON ({error.msg}{line}); {fix}") from None
    except RecursionError:
        raise CommandError(f"{where}: JSON nested too deeply; {fix}") from None


def _bad_line(bad: JsonlError) -> CommandError:
    """The message ``_parse`` gives, for a line of samples.jsonl (a blank line: what JSON says of it)."""
    what = {"utf8": f"not UTF-8 text ({bad.reason})", "depth": "JSON nested too deeply"}.get(
        bad.kind, f"not valid JSON ({bad.reason})")
    return CommandError(f"{bad.name}:{bad.number}: {what}; {_FIX}")


def read_samples(run_dir: str | Path) -> list[dict]:
    """Every sample of ``run_dir/samples.jsonl``; the first bad line raises CommandError."""
    path = Path(run_dir) / "samples.jsonl"
    if not path.is_file():
        raise CommandError(f"{path}: {why_not_a_file(path)}; --regrade needs a folder written by `oneshot-rlvr eval --out`")
    samples, first_seen = [], {}
    lines = read_jsonl(_read_bytes(path), blank_lines="error", cut_last_line="read", error=_bad_line, name=str(path))
    for number, sample in lines:  # a response may hold U+2028 raw: read_jsonl splits at \n only
        where = f"{path}:{number}"
        _check_sample(sample, where)
        key = (sample["benchmark"], str(sample["id"]), sample["sample"])
        if key in first_seen:  # counted twice it would weigh that problem double in every metric
            raise CommandError(f"{where}: benchmark {key[0]} problem {key[1]} sample {key[2]} is already on line "
                               f"{first_seen[key]}; {_FIX}")
        first_seen[key] = number
        samples.append(sample)
    if not samples:
        raise CommandError(f"{path}: empty; nothing to re-grade")
    return samples


def read_summary(run_dir: str | Path) -> dict:
    """``run_dir/summary.json`` as a dict ({} when there is none); a damaged one raises CommandError."""
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        return {}
    fix = "fix or delete it (--regrade takes only the config and timing from it)"
    if not path.is_file():  # a folder, or a pipe that would block the read
        raise CommandError(f"{path}: not a regular file; {fix}")
    summary = _parse(_read_bytes(path), str(path), fix)
    if not isinstance(summary, dict):
        raise CommandError(f"{path}: expected a JSON object, got {_json_type(summary)}; {fix}")
    if not isinstance(summary.get("config", {}), dict):
        raise CommandError(f'{path}: "config" must be an object, got {_json_type(summary["config"])}; {fix}')
    return summary
