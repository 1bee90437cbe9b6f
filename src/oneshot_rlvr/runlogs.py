"""What a run wrote, read back: the folders of ``oneshot-rlvr train``, ``eval`` and ``demo`` as immutable records
for the findings (``findings.py``), the report (``report.py``) and its charts (``plots.py``).

    train run   metrics.jsonl (one record per optimizer step), eval.jsonl (held-out evaluations by step),
                config.yaml, history.json (example id → training accuracies)  → RunLog
    eval run    summary.json                                                 → EvalRunLog
    demo        demo.json (the manifest) and the train run folders it names   → Demo (one DemoRun per run)

A held-out evaluation's rates become counts with ``Score.proportion``: correct = round(rate × n × k) of
n × k graded responses (n problems, k samples each). Damaged or foreign files raise ``CommandError`` (one
line: which file, which line, what to do); a log whose last line a killed run left half-written loses that line.
Numbers the report computes with must be finite and in range (rates 0..1; n, k, steps whole, at most 2^63 − 1);
text must be valid Unicode (no lone surrogates).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .cliutil import CommandError
from .metrics import Proportion

RATE_KEYS = ("strict", "lenient", "boxed_rate", "reflection_rate")
MAX_WHOLE = 2**63 - 1  # steps, n and k: whole numbers that fit in 64 bits


@dataclass(frozen=True)
class Score:
    """One benchmark at one held-out evaluation; rates are over ``n × k`` graded responses."""

    n: int
    strict: float
    lenient: float
    boxed_rate: float | None = None
    reflection_rate: float | None = None
    mean_length: float | None = None
    k: int = 1

    def proportion(self, key: str) -> Proportion | None:
        rate = getattr(self, key)
        return None if rate is None else Proportion(round(rate * self.n * self.k), self.n * self.k)


@dataclass(frozen=True)
class Evaluation:
    """One held-out evaluation: ``step`` (None for an eval run) and a Score per benchmark."""

    step: int | None
    scores: Mapping[str, Score]

    def pooled(self, key: str = "lenient", benchmarks: Sequence[str] | None = None) -> Proportion | None:
        parts = [self.scores[b].proportion(key) for b in (self.scores if benchmarks is None else benchmarks)]
        if not parts or any(p is None for p in parts):
            return None
        return Proportion(sum(p.successes for p in parts), sum(p.n for p in parts))


@dataclass(frozen=True)
class RunLog:
    """A train run folder: its recipe, one record per optimizer step, its held-out evaluations by step."""

    path: Path
    config: Mapping
    steps: tuple[Mapping, ...]
    evaluations: tuple[Evaluation, ...]
    history: Mapping[str, tuple[float, ...]]

    def series(self, key: str) -> list[tuple[int, float]]:
        """The steps that logged ``key`` as a finite number; others (a string, NaN, an overflow) are left out."""
        return [(int(s["step"]), float(s[key])) for s in self.steps if _finite(s.get(key))]


@dataclass(frozen=True)
class EvalRunLog:
    path: Path
    model: str | None
    config: Mapping
    evaluation: Evaluation
    summary: Mapping  # summary.json as written, for pass@k, maj@k, truncation


@dataclass(frozen=True)
class DemoRun:
    name: str
    label: str
    role: str
    reward: str | None
    examples: str | None
    log: RunLog | None
    missing: str | None  # why there is no log


@dataclass(frozen=True)
class Demo:
    path: Path
    manifest: Mapping
    runs: tuple[DemoRun, ...]
    categories: tuple[str, ...]
    pi1_category: str | None

    def run(self, role: str) -> DemoRun | None:
        return next((r for r in self.runs if r.role == role), None)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot read it as UTF-8 text ({error}); check the file") from None


def _read_json(path: Path):
    try:
        value = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); the file is damaged") from None
    _check_text(value, str(path))
    return value


def _check_text(value, where: str) -> None:
    """Refuse a string (key or value) that is not valid Unicode: a lone surrogate, as JSON's \\ud800 gives."""
    stack = [(value, "")]
    while stack:
        item, field = stack.pop()
        if isinstance(item, str) and not _is_unicode(item):
            raise CommandError(f"{where}{f' field {field}' if field else ''}: text is not valid Unicode "
                               f"(a lone surrogate); the file is damaged")
        if isinstance(item, (dict, list)):
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                name = str(key) if not isinstance(key, str) or _is_unicode(key) else ascii(key)
                stack += [(key, f"{field} (a key)" if field else "(a key)"),
                          (child, f"{field}.{name}" if field else name)]


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _finite(value) -> bool:
    """A JSON number that is a finite float: not a bool, NaN, ±Infinity or an integer too large for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_rate(value) -> bool:
    return _finite(value) and 0 <= value <= 1


def _is_whole(value, low: int) -> bool:
    """A whole number (4 or 4.0) from ``low`` to ``MAX_WHOLE``."""
    if isinstance(value, float):
        return _finite(value) and value.is_integer() and low <= value <= MAX_WHOLE
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_WHOLE


def _expect(ok: bool, where: str, what: str) -> None:
    """A field a run's file may hold: absent, or of the shape the report prints."""
    if not ok:
        raise CommandError(f"{where}: must be {what}; the file is damaged")


def _read_jsonl(path: Path, required: Sequence[str]) -> list[dict]:
    """The records of a log of ``oneshot-rlvr train``; each has ``required`` keys, ``step`` among them."""
    text = _read_text(path)
    lines = text.splitlines()
    if lines and not text.endswith("\n"):  # a run killed mid-write leaves a cut last line: not a record yet
        try:
            json.loads(lines[-1])
        except json.JSONDecodeError:
            lines.pop()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CommandError(f"{path}:{number}: not valid JSON ({error.msg}); the file is damaged") from None
        missing = [k for k in required if not isinstance(record, dict) or k not in record]
        if missing:
            raise CommandError(f"{path}:{number}: missing {', '.join(missing)}; not a log of `oneshot-rlvr train`")
        if not isinstance(record["step"], int) or not _is_whole(record["step"], 0):
            raise CommandError(f"{path}:{number}: step must be a whole number from 0 to 2^63 − 1; the file is damaged")
        _check_text(record, f"{path}:{number}")
        records.append(record)
    return records


def _score(raw, where: str, k=1) -> Score:
    """One benchmark's score; n, strict and lenient are required, each field is checked by name."""
    if not isinstance(raw, dict):
        raise CommandError(f"{where}: must be an object with n, strict and lenient; the file is damaged")
    missing = [key for key in ("n", "strict", "lenient") if raw.get(key) is None]
    if missing:
        raise CommandError(f"{where}: missing {', '.join(missing)} (n, strict and lenient are required); "
                           f"the file is damaged")
    for key, value in (("n", raw["n"]), ("k", k)):
        _expect(_is_whole(value, 1), f"{where} {key}", "a whole number from 1 to 2^63 − 1")
    for key in RATE_KEYS:
        _expect(raw.get(key) is None or _is_rate(raw[key]), f"{where} {key}", "a rate within 0..1")
    length = raw.get("mean_length")
    _expect(length is None or _finite(length) and length >= 0, f"{where} mean_length", "a number ≥ 0")
    return Score(n=int(raw["n"]), k=int(k), mean_length=None if length is None else float(length),
                 **{key: None if raw.get(key) is None else float(raw[key]) for key in RATE_KEYS})


def load_run(run_dir: str | Path) -> RunLog:
    """A train run folder (metrics.jsonl and/or eval.jsonl; config.yaml and history.json if present)."""
    import yaml

    path = Path(run_dir)
    metrics_path, eval_path = path / "metrics.jsonl", path / "eval.jsonl"
    if not metrics_path.is_file() and not eval_path.is_file():
        raise CommandError(f"{path}: no metrics.jsonl or eval.jsonl; give a folder written by `oneshot-rlvr train`")
    steps = _read_jsonl(metrics_path, ["step"]) if metrics_path.is_file() else []
    by_step: dict[int, Evaluation] = {}  # a resumed run may repeat a step: the later line wins
    for number, record in enumerate(_read_jsonl(eval_path, ["step", "benchmarks"]) if eval_path.is_file() else [], 1):
        where = f"{eval_path}:{number}"
        if not isinstance(record["benchmarks"], dict) or not record["benchmarks"]:
            raise CommandError(f"{where}: 'benchmarks' must name at least one benchmark; the file is damaged")
        by_step[int(record["step"])] = Evaluation(int(record["step"]), {
            name: _score(raw, f"{where} benchmark {name}") for name, raw in record["benchmarks"].items()})
    if not steps and not by_step:
        raise CommandError(f"{path}: metrics.jsonl and eval.jsonl hold no records; the run has not logged a step yet")
    config = {}
    if (path / "config.yaml").is_file():
        try:
            config = yaml.safe_load(_read_text(path / "config.yaml")) or {}
        except yaml.YAMLError as error:  # its str() spans lines: keep the problem and where
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise CommandError(f"{path / 'config.yaml'}{where}: not valid YAML "
                               f"({getattr(error, 'problem', None) or error}); the file is damaged") from None
        _check_text(config, str(path / "config.yaml"))
    history = _read_json(path / "history.json") if (path / "history.json").is_file() else {}
    if not isinstance(history, dict) or not all(isinstance(v, list) and all(map(_is_rate, v))
                                                for v in history.values()):
        raise CommandError(f"{path / 'history.json'}: not {{example id: [accuracies within 0..1]}}; "
                           f"the file is damaged")
    return RunLog(path.resolve(), config if isinstance(config, dict) else {},
                  tuple(sorted(steps, key=lambda s: s["step"])),
                  tuple(by_step[s] for s in sorted(by_step)),
                  {str(k): tuple(v) for k, v in history.items()})


def load_eval_run(run_dir: str | Path) -> EvalRunLog:
    """An eval run folder (summary.json of ``oneshot-rlvr eval``)."""
    path = Path(run_dir) / "summary.json"
    summary = _read_json(path)
    if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict) or not summary["benchmarks"]:
        raise CommandError(f"{path}: no 'benchmarks'; not a summary of `oneshot-rlvr eval`")
    scores = {name: _score(raw, f"{path} benchmark {name}", raw.get("k", 1) if isinstance(raw, dict) else 1)
              for name, raw in summary["benchmarks"].items()}
    for name, raw in summary["benchmarks"].items():
        where = f"{path} benchmark {name}"
        for key in ("maj@k", "truncated_rate"):
            _expect(raw.get(key) is None or _is_rate(raw[key]), f"{where} {key}", "a rate within 0..1")
        passes = raw.get("pass@k")
        _expect(passes is None or isinstance(passes, dict) and all(_is_rate(v) for v in passes.values()),
                f"{where} pass@k", "{k: rate within 0..1}")
    _expect(summary.get("paper6_mean") is None or _is_rate(summary["paper6_mean"]), f"{path} paper6_mean",
            "a rate within 0..1")
    _expect(isinstance(summary.get("config") or {}, dict), f"{path} config", "an object")
    return EvalRunLog(Path(run_dir), summary.get("model"), summary.get("config") or {}, Evaluation(None, scores),
                      summary)


def load_demo(demo_dir: str | Path) -> Demo:
    """A demo folder: demo.json and the train run folders it names (each may be missing: skipped)."""
    path = Path(demo_dir)
    manifest = _read_json(path / "demo.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
        raise CommandError(f"{path / 'demo.json'}: no 'runs' list; not a manifest of `oneshot-rlvr demo`")
    where = path / "demo.json"
    for key in ("selection", "base", "seconds"):
        _expect(isinstance(manifest.get(key) or {}, dict), f"{where} {key}", "an object")
    selection = manifest.get("selection") or {}
    _expect(isinstance(selection.get("pi1") or {}, dict), f"{where} selection.pi1", "an object")
    _expect(isinstance(selection.get("top") or [], list), f"{where} selection.top", "a list")
    _expect(isinstance((manifest.get("base") or {}).get("corpus") or {}, dict), f"{where} base.corpus", "an object")
    _expect(all(_finite(v) and v >= 0 for v in (manifest.get("seconds") or {}).values()), f"{where} seconds",
            "{stage: seconds ≥ 0}")
    _expect(isinstance(manifest.get("categories") or [], list), f"{where} categories", "a list of names")
    _expect(isinstance(manifest.get("skipped") or [], list), f"{where} skipped", "a list")
    skipped = {str(s.get("name")): str(s.get("why", "no reason given")) for s in manifest.get("skipped") or []
               if isinstance(s, dict)}
    runs = []
    for index, entry in enumerate(manifest["runs"], start=1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise CommandError(f"{path / 'demo.json'}: run {index} has no 'name'; the manifest is damaged")
        name = str(entry["name"])
        folder = path / str(entry.get("dir", name))
        log, missing = None, None
        if name in skipped:
            missing = f"skipped: {skipped[name]}"
        elif (folder / "metrics.jsonl").is_file() or (folder / "eval.jsonl").is_file():
            log = load_run(folder)
        else:
            missing = f"{entry.get('dir', name)}/ holds no metrics.jsonl or eval.jsonl"
        runs.append(DemoRun(name, str(entry.get("label") or name), str(entry.get("role", name)), entry.get("reward"),
                            None if entry.get("examples") is None else str(entry["examples"]), log, missing))
    listed = {r.name for r in runs}
    runs += [DemoRun(name, name, name, None, None, None, f"skipped: {why}") for name, why in skipped.items()
             if name not in listed]
    one_shot = next((e for e in manifest["runs"] if isinstance(e, dict) and e.get("role") == "one-shot"), {})
    category = (selection.get("pi1") or {}).get("category")
    return Demo(path, manifest, tuple(runs), tuple(str(c) for c in manifest.get("categories") or ()),
                category or one_shot.get("example_category"))


def detect_kind(run_dir: str | Path) -> str:
    """``demo`` (demo.json), ``train`` (metrics.jsonl or eval.jsonl) or ``eval`` (summary.json)."""
    path = Path(run_dir)
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "no such folder"
        raise CommandError(f"{path}: {what}; give the folder of a train, eval or demo run")
    kinds = (("demo", ("demo.json",)), ("train", ("metrics.jsonl", "eval.jsonl")), ("eval", ("summary.json",)))
    for kind, names in kinds:
        if any((path / name).is_file() for name in names):
            return kind
    raise CommandError(f"{path}: found none of demo.json, metrics.jsonl, eval.jsonl, summary.json; give a folder "
                       f"written by `oneshot-rlvr demo`, `train` or `eval`")
