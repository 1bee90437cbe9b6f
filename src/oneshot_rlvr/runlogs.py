"""What a run wrote, read back: the folders of ``oneshot-rlvr train``, ``eval`` and ``demo`` as immutable records
for the findings (``findings.py``), the report (``report.py``) and its charts (``plots.py``).

    train run   metrics.jsonl (one record per optimizer step), eval.jsonl (held-out evaluations by step),
                config.yaml, history.json (example id → training accuracies)  → RunLog
    eval run    summary.json                                                 → EvalRunLog
    demo        demo.json (the manifest, docs/demo-manifest.md) and the train   → Demo (one DemoRun per run:
                run folders it names                                            one per role and seed)

A held-out evaluation's rates become counts with ``Score.proportion``: correct = round(rate × n × k) of
n × k graded responses (n problems, k samples each). Damaged or foreign files raise ``CommandError`` (one
line: which file, which line, what to do); a log whose last line a killed run left half-written loses that line.
Numbers the report computes with must be finite and in range (rates 0..1; n, k, steps whole, at most 2^63 − 1);
text must be valid Unicode (no lone surrogates): ``fieldchecks.py``; the manifest's fields: ``demo_manifest.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .cliutil import CommandError
from .demo_manifest import check_manifest
from .fieldchecks import check_text, expect, finite, is_rate, is_whole, read_json, read_text
from .jsonl import JsonlError, read_jsonl
from .metrics import Proportion

RATE_KEYS = ("strict", "lenient", "boxed_rate", "reflection_rate")


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
        return [(int(s["step"]), float(s[key])) for s in self.steps if finite(s.get(key))]


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
    seed: int | None = None  # the seed the run trained with; None in format-1 demos


def seed_order(run: DemoRun) -> tuple[bool, int]:
    """Runs without a seed (format 1) first, then by seed."""
    return (run.seed is not None, run.seed or 0)


@dataclass(frozen=True)
class Demo:
    """A demo's manifest (checked by ``demo_manifest.check_manifest``) and its runs, one per role and seed."""

    path: Path
    manifest: Mapping
    runs: tuple[DemoRun, ...]
    categories: tuple[str, ...]
    pi1_category: str | None
    format: int = 1

    def runs_of(self, role: str) -> tuple[DemoRun, ...]:
        """The runs of ``role`` by seed, those without a log included (their ``missing`` says why)."""
        return tuple(sorted((r for r in self.runs if r.role == role), key=seed_order))

    def run(self, role: str) -> DemoRun | None:
        """The first run of ``role`` (its lowest seed), or None."""
        return next(iter(self.runs_of(role)), None)

    def roles(self) -> tuple[str, ...]:
        """Every role that has a run, the one-shot role first, then as the manifest lists them."""
        listed = dict.fromkeys(r.role for r in self.runs)
        return tuple(sorted(listed, key=lambda role: role != "one-shot"))

    @property
    def seeds(self) -> tuple[int, ...]:
        """The plan's seeds; without a plan, the seeds the runs name (none in format 1)."""
        planned = self.plan.get("seeds")
        if planned:
            return tuple(int(s) for s in planned)
        return tuple(sorted({r.seed for r in self.runs if r.seed is not None}))

    @property
    def gates(self) -> Mapping | None:
        """The base model's gates (``toy.gates.measure_gates``), or None when the demo measured none."""
        return self.manifest.get("gates") or None

    @property
    def plan(self) -> Mapping:
        return self.manifest.get("plan") or {}

    @property
    def rules(self) -> Mapping[str, str]:
        """Each claim's decision rule as the demo wrote it before the runs (empty in format 1)."""
        return self.manifest.get("rules") or {}

    @property
    def selection(self) -> Mapping:
        return self.manifest.get("selection") or {}

    @property
    def world(self) -> str | None:
        return self.manifest.get("world")

    @property
    def base(self) -> Mapping:
        return self.manifest.get("base") or {}


def _read_jsonl(path: Path, required: Sequence[str]) -> list[dict]:
    """The records of a log of ``oneshot-rlvr train``; each has ``required`` keys, ``step`` among them."""
    def damaged(bad: JsonlError) -> CommandError:
        return CommandError(f"{path}:{bad.number}: not valid JSON ({bad.reason}); the file is damaged")

    records = []  # a run killed mid-write leaves a cut last line: not a record yet (unless it is whole JSON)
    for number, record in read_jsonl(read_text(path), blank_lines="skip", cut_last_line="drop_if_bad", error=damaged):
        missing = [k for k in required if not isinstance(record, dict) or k not in record]
        if missing:
            raise CommandError(f"{path}:{number}: missing {', '.join(missing)}; not a log of `oneshot-rlvr train`")
        if not isinstance(record["step"], int) or not is_whole(record["step"], 0):
            raise CommandError(f"{path}:{number}: step must be a whole number from 0 to 2^63 − 1; the file is damaged")
        check_text(record, f"{path}:{number}")
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
        expect(is_whole(value, 1), f"{where} {key}", "a whole number from 1 to 2^63 − 1")
    for key in RATE_KEYS:
        expect(raw.get(key) is None or is_rate(raw[key]), f"{where} {key}", "a rate within 0..1")
    length = raw.get("mean_length")
    expect(length is None or finite(length) and length >= 0, f"{where} mean_length", "a number ≥ 0")
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
            config = yaml.safe_load(read_text(path / "config.yaml")) or {}
        except yaml.YAMLError as error:  # its str() spans lines: keep the problem and where
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise CommandError(f"{path / 'config.yaml'}{where}: not valid YAML "
                               f"({getattr(error, 'problem', None) or error}); the file is damaged") from None
        check_text(config, str(path / "config.yaml"))
    history = read_json(path / "history.json") if (path / "history.json").is_file() else {}
    if not isinstance(history, dict) or not all(isinstance(v, list) and all(map(is_rate, v))
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
    summary = read_json(path)
    if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict) or not summary["benchmarks"]:
        raise CommandError(f"{path}: no 'benchmarks'; not a summary of `oneshot-rlvr eval`")
    scores = {name: _score(raw, f"{path} benchmark {name}", raw.get("k", 1) if isinstance(raw, dict) else 1)
              for name, raw in summary["benchmarks"].items()}
    for name, raw in summary["benchmarks"].items():
        where = f"{path} benchmark {name}"
        for key in ("maj@k", "truncated_rate"):
            expect(raw.get(key) is None or is_rate(raw[key]), f"{where} {key}", "a rate within 0..1")
        passes = raw.get("pass@k")
        expect(passes is None or isinstance(passes, dict) and all(is_rate(v) for v in passes.values()),
               f"{where} pass@k", "{k: rate within 0..1}")
    expect(summary.get("paper6_mean") is None or is_rate(summary["paper6_mean"]), f"{path} paper6_mean",
           "a rate within 0..1")
    expect(isinstance(summary.get("config") or {}, dict), f"{path} config", "an object")
    return EvalRunLog(Path(run_dir), summary.get("model"), summary.get("config") or {}, Evaluation(None, scores),
                      summary)


def load_demo(demo_dir: str | Path) -> Demo:
    """A demo folder: demo.json and the train run folders it names (each may be missing: skipped or not run).
    A run the plan names (role and seed) that demo.json does not list is a DemoRun without a log."""
    path = Path(demo_dir)
    where = path / "demo.json"
    manifest = read_json(where)
    fmt = check_manifest(manifest, str(where))
    skipped = {str(s.get("name")): str(s.get("why", "no reason given")) for s in manifest.get("skipped") or []
               if isinstance(s, dict)}
    runs = []
    for entry in manifest["runs"]:
        name = str(entry["name"])
        folder = path / str(entry.get("dir", name))
        log, missing = None, None
        if name in skipped:
            missing = f"skipped: {skipped[name]}"
        elif (folder / "metrics.jsonl").is_file() or (folder / "eval.jsonl").is_file():
            log = load_run(folder)
        else:
            missing = f"{entry.get('dir', name)}/ holds no metrics.jsonl or eval.jsonl"
        seed = None if entry.get("seed") is None else int(entry["seed"])
        runs.append(DemoRun(name, str(entry.get("label") or name), str(entry.get("role", name)), entry.get("reward"),
                            None if entry.get("examples") is None else str(entry["examples"]), log, missing, seed))
    listed = {r.name for r in runs}
    runs += [DemoRun(name, name, name, None, None, None, f"skipped: {why}") for name, why in skipped.items()
             if name not in listed]
    runs += _planned_not_listed(manifest, {(r.role, r.seed) for r in runs})
    selection = manifest.get("selection") or {}
    one_shot = next((e for e in manifest["runs"] if e.get("role") == "one-shot"), {})
    category = (selection.get("pi1") or {}).get("category")
    return Demo(path, manifest, tuple(runs), tuple(manifest.get("categories") or ()),
                category or one_shot.get("example_category"), fmt)


def _planned_not_listed(manifest: Mapping, listed: set) -> list[DemoRun]:
    """The plan's runs (each role once per seed, each extra once with the first seed) that demo.json does not
    list: a demo stopped before them. They are named so that the findings can say which seeds are missing."""
    plan = manifest.get("plan") or {}
    seeds = [int(s) for s in plan.get("seeds") or ()]
    planned = [(role, seed) for role in plan.get("roles") or () for seed in seeds]
    planned += [(role, seeds[0]) for role in plan.get("extras") or () if seeds]
    why = "planned, not in demo.json's runs" + ("" if manifest.get("complete") else " (the demo did not finish)")
    return [DemoRun(f"{role}-s{seed}", role, role, None, None, None, why, seed)
            for role, seed in planned if (role, seed) not in listed]


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
