"""``oneshot-rlvr grade``: grade one (response, gold) pair, or a JSON Lines file of them.

    oneshot-rlvr grade --response TEXT --gold TEXT [--mode strict|lenient] [--grader NAME] [--timeout S]
    oneshot-rlvr grade --file IN.jsonl [--out OUT.jsonl] [--mode ...] [--grader NAME] [--workers N] [--timeout S]

``--grader``: ``oneshot-rlvr`` (default, the training reward's grader) or ``qwen25-math`` (the paper's evaluator,
quirks included); see ``graders.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from ..cliutil import (EXIT_FAILURE, EXIT_OK, CommandError, check_output_path, json_line, positive_int, positive_seconds,
                       write_atomically)
from ..jsonl import JsonlError, read_jsonl

# --- grade ------------------------------------------------------------------------------------------

GRADE_HELP = "grade model responses against gold answers (one pair, or a JSON Lines file)"
_LINE_SHAPE = 'each line needs {"response": ..., "gold": ...}'


class _JSONNumber(str):
    """A JSON number kept as written (``0.1``, ``1e-3``, 20 digits): gold answers lose nothing to float."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not standard JSON")


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, _JSONNumber) or isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _loads(line: str):
    return json.loads(line, parse_float=_JSONNumber, parse_constant=_reject_constant)


def _bad_line(bad: JsonlError) -> str:
    """Why a line is no JSON value, as the message says it."""
    if bad.kind == "blank":
        return f"blank line; {_LINE_SHAPE} (remove blank lines)"
    if bad.kind == "json":
        return f"not valid JSON ({bad.reason} at column {bad.problem.colno}); {_LINE_SHAPE}"
    if bad.kind == "depth":
        return f"JSON nested too deeply; {_LINE_SHAPE}"
    return f"not valid JSON ({bad.problem}); {_LINE_SHAPE}"  # NaN / Infinity, a number past the digit limit


def _parse_pair(record, where: str) -> tuple[str, object]:
    """One input line's value (or the JsonlError that says why it has none) → (response, gold); raises
    CommandError naming ``where``."""
    if isinstance(record, JsonlError):
        raise CommandError(f"{where}: {_bad_line(record)}")
    if not isinstance(record, dict):
        raise CommandError(f"{where}: expected a JSON object, got {_json_type(record)}; {_LINE_SHAPE}")
    for key in ("response", "gold"):
        if key not in record:
            raise CommandError(f'{where}: missing key "{key}"; {_LINE_SHAPE}')
    response, gold = record["response"], record["gold"]
    if not isinstance(response, str) or isinstance(response, _JSONNumber):
        raise CommandError(f'{where}: "response" must be a string, got {_json_type(response)}; {_LINE_SHAPE}')
    if gold is None or isinstance(gold, (bool, list, dict)):
        raise CommandError(f'{where}: "gold" must be a string or a number, got {_json_type(gold)}; {_LINE_SHAPE}')
    if isinstance(gold, str) and not gold.strip():
        raise CommandError(f'{where}: "gold" is empty; every line needs its gold answer')
    return response, (str(gold) if isinstance(gold, _JSONNumber) else gold)


def _read_text(path: str) -> tuple[str, str]:
    """(name for messages, text) of ``path``; ``-`` is standard input."""
    if path == "-":
        name = "<stdin>"
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    elif not path:
        raise CommandError(f"--file is empty; give a JSON Lines file ({_LINE_SHAPE}) or - for standard input")
    else:
        name = path
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file; check the path (--file takes a JSON Lines file, "
                               f"{_LINE_SHAPE})") from None
        except IsADirectoryError:
            raise CommandError(f"{path}: is a directory; give --file a JSON Lines file") from None
        except OSError as error:
            raise CommandError(f"{path}: cannot read ({error.strerror}); check the path and its permissions") from None
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CommandError(f"{name} line {line}: not UTF-8 text ({error.reason} at byte {error.start}); "
                           f"save the file as UTF-8") from None


def read_pairs(path: str) -> list[tuple[str, object]]:
    """All (response, gold) pairs of a JSON Lines file; the first bad line, or no line at all, raises CommandError."""
    name, text = _read_text(path)
    pairs, problems = [], []  # every line is read, so that the message can count the bad ones after the first
    for number, line in read_jsonl(text, blank_lines="error", cut_last_line="read", bad_lines="yield", loads=_loads):
        try:
            pairs.append(_parse_pair(line, f"{name} line {number}"))
        except CommandError as error:
            problems.append(str(error))
    if problems:
        more = f" ({len(problems) - 1} more bad line{'s' if len(problems) > 2 else ''} after it)" if len(problems) > 1 else ""
        raise CommandError(problems[0] + more)
    if not pairs:  # like select, train and eval: an empty input is a mistake, not "graded 0 pairs"
        raise CommandError(f"{name}: empty, nothing to grade; {_LINE_SHAPE}")
    return pairs


def summarize(verdicts: list, seconds: float) -> str:
    """``graded 120 pairs: 87 correct (72.5%), reasons: match 80, numeric 5, ... in 0.4 s``."""
    from . import REASONS

    total = len(verdicts)
    correct = sum(1 for verdict in verdicts if verdict.correct)
    share = f" ({100.0 * correct / total:.1f}%)" if total else ""
    counts = Counter(verdict.reason for verdict in verdicts)
    order = list(REASONS) + sorted(set(counts) - set(REASONS))
    reasons = ", ".join(f"{reason} {counts[reason]}" for reason in order if counts[reason])
    reasons = f", reasons: {reasons}" if reasons else ""
    return f"graded {total} pair{'' if total == 1 else 's'}: {correct} correct{share}{reasons} in {seconds:.1f} s"


def add_grader_argument(parser: argparse.ArgumentParser, default: str | None, extra: str = "") -> None:
    """``--grader NAME`` (shared by grade and eval)."""
    from .graders import DEFAULT_GRADER, GRADERS

    parser.add_argument("--grader", choices=list(GRADERS), default=default, metavar="NAME",
                        help=f"{DEFAULT_GRADER} (default: the project's grader, the training reward's) or "
                             f"qwen25-math (the Qwen2.5-Math evaluator the paper reported with, quirks included)"
                             f"{extra}")


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    from . import DEFAULT_TIMEOUT_SECONDS, MODES
    from .graders import DEFAULT_GRADER

    source = parser.add_argument_group("what to grade (one of)")
    source.add_argument("--response", metavar="TEXT", help="one model response (give its answer with --gold)")
    source.add_argument("--file", metavar="IN.jsonl",
                        help='JSON Lines, one {"response": ..., "gold": ...} per line ("-" reads stdin)')
    parser.add_argument("--gold", metavar="TEXT", help="the gold answer for --response")
    parser.add_argument("--out", metavar="OUT.jsonl",
                        help="write the verdicts here (atomically) instead of stdout")
    parser.add_argument("--mode", choices=MODES, default="lenient",
                        help="answer extraction: strict = last \\boxed{} only (the training reward; with "
                             "qwen25-math: its verdict, counted only for a boxed answer); lenient = the "
                             "Qwen2.5-Math evaluator's order (default: %(default)s)")
    add_grader_argument(parser, DEFAULT_GRADER)
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_SECONDS, metavar="S",
                        help="wall-clock limit per verdict in seconds; past it the answer is wrong with "
                             "reason 'timeout' (default: %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=min(4, os.cpu_count() or 1), metavar="N",
                        help="processes for the symbolic stage (default: %(default)s)")


def _check_grade_arguments(args: argparse.Namespace) -> None:
    if args.response is not None and args.file is not None:
        raise CommandError("give either --response (one pair) or --file (many), not both")
    if args.response is None and args.file is None:
        raise CommandError("nothing to grade; give --response TEXT --gold TEXT, or --file IN.jsonl")
    if args.response is not None and args.gold is None:
        raise CommandError("--response needs --gold TEXT, the gold answer to compare with")
    if args.file is not None and args.gold is not None:
        raise CommandError("--gold goes with --response; with --file each line carries its own gold")
    if args.gold is not None and not args.gold.strip():
        raise CommandError("--gold is empty; give the gold answer, e.g. --gold 42")


def run_grade(args: argparse.Namespace) -> int:
    _check_grade_arguments(args)
    if args.out is not None:
        check_output_path(args.out)
        if args.file not in (None, "-") and os.path.exists(args.out) and os.path.samefile(args.file, args.out):
            raise CommandError(f"--out {args.out} is the --file being graded; the verdicts would replace the pairs, "
                               f"so give --out another file name")
    pairs = [(args.response, args.gold)] if args.file is None else read_pairs(args.file)

    from .graders import grade_batch

    started = time.monotonic()
    verdicts = grade_batch(args.grader, pairs, mode=args.mode, workers=args.workers, timeout=args.timeout)
    seconds = time.monotonic() - started
    if args.out is not None:
        try:
            write_atomically(args.out, [json_line(verdict.to_dict()) for verdict in verdicts])
        except OSError as error:
            raise CommandError(f"{args.out}: could not write ({error.strerror or error}); nothing was written",
                               status=EXIT_FAILURE) from None
    else:
        stdout = sys.stdout
        for verdict in verdicts:
            stdout.write(json_line(verdict.to_dict(), stdout))
        stdout.flush()
    if args.file is not None:
        written = f"; wrote {args.out}" if args.out is not None else ""
        print(summarize(verdicts, seconds) + written, file=sys.stderr)
    return EXIT_OK


# --- the entry point --------------------------------------------------------------------------------
