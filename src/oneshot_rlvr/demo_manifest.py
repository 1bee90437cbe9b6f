"""The fields of ``demo.json`` the report reads, checked before anything is computed (docs/demo-manifest.md).

``format`` 2 (absent: 1) holds one run per role and seed, the base model's gates, the plan and the rules;
format 1 (before toy world v2) holds one run per role and no seed. Every field is optional unless the format
needs it (a run's ``name``; in format 2, its ``seed``); a present field of the wrong shape is one
``CommandError`` line naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .cliutil import CommandError
from .fieldchecks import expect, finite, is_rate, is_whole

FORMATS = (1, 2)
GATE_RATES = ("greedy", "sampled", "strict_greedy", "boxed_greedy", "skill_greedy", "skill_sampled", "with_skill",
              "without_skill", "forced")
SKILL_RATES = ("with_skill", "without_skill", "skill_share")


def _path(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


class _Fields:
    """Checks of one file's fields; ``field`` is the path inside the file (``gates.all.greedy``)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def check(self, ok: bool, field: str, what: str) -> None:
        expect(ok, f"{self.where} {field}", what)

    def object(self, value, field: str) -> dict:
        """An object, or null / absent (read as empty)."""
        self.check(value is None or isinstance(value, dict), field, "an object")
        return value or {}

    def list(self, value, field: str, what: str = "a list") -> list:
        self.check(value is None or isinstance(value, list), field, what)
        return value or []

    def rates(self, raw: Mapping, keys: Iterable[str], field: str) -> None:
        for key in keys:
            self.check(raw.get(key) is None or is_rate(raw[key]), _path(field, key), "a rate within 0..1 or null")

    def wholes(self, raw: Mapping, keys: Iterable[str], field: str, low: int = 0) -> None:
        for key in keys:
            self.check(raw.get(key) is None or is_whole(raw[key], low), _path(field, key),
                       f"a whole number from {low} to 2^63 − 1")

    def texts(self, raw: Mapping, keys: Iterable[str], field: str) -> None:
        for key in keys:
            self.check(raw.get(key) is None or isinstance(raw[key], str), _path(field, key), "text")

    def flags(self, raw: Mapping, keys: Iterable[str], field: str) -> None:
        for key in keys:
            self.check(raw.get(key) is None or isinstance(raw[key], bool), _path(field, key), "true or false")


def manifest_format(manifest: Mapping, where: str) -> int:
    value = manifest.get("format", 1)
    expect(is_whole(value, 1), f"{where} format", "a whole number (1 or 2)")
    if int(value) not in FORMATS:
        raise CommandError(f"{where} format: {int(value)} is newer than this oneshot-rlvr reads (1 or 2); "
                           f"update oneshot-rlvr")
    return int(value)


def check_manifest(manifest, where: str) -> int:
    """Check every field of ``demo.json`` the report reads; returns its format."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
        raise CommandError(f"{where}: no 'runs' list; not a manifest of `oneshot-rlvr demo`")
    fmt = manifest_format(manifest, where)
    fields = _Fields(where)
    fields.wholes(manifest, ["seed"], "")
    fields.check(manifest.get("budget_minutes") is None or finite(manifest["budget_minutes"])
                 and manifest["budget_minutes"] >= 0, "budget_minutes", "a number ≥ 0")
    fields.check(manifest.get("estimate_seconds") is None or finite(manifest["estimate_seconds"])
                 and manifest["estimate_seconds"] >= 0, "estimate_seconds", "a number of seconds ≥ 0")
    fields.texts(manifest, ["world"], "")
    fields.flags(manifest, ["complete"], "")
    seconds = fields.object(manifest.get("seconds"), "seconds")
    fields.check(all(finite(v) and v >= 0 for v in seconds.values()), "seconds", "{stage: seconds ≥ 0}")
    categories = fields.list(manifest.get("categories"), "categories", "a list of names")
    fields.check(all(isinstance(c, str) for c in categories), "categories", "a list of names")
    fields.list(manifest.get("skipped"), "skipped")
    _check_base(fields, manifest.get("base"))
    _check_selection(fields, manifest.get("selection"))
    _check_gates(fields, manifest.get("gates"))
    _check_plan(fields, manifest.get("plan"))
    rules = fields.object(manifest.get("rules"), "rules")
    fields.check(all(isinstance(v, str) for v in rules.values()), "rules", "{claim: its rule as text}")
    _check_runs(fields, manifest["runs"], fmt)
    return fmt


def _check_base(fields: _Fields, value) -> None:
    base = fields.object(value, "base")
    fields.object(base.get("corpus"), "base.corpus")
    fields.object(base.get("spec"), "base.spec")
    fields.texts(base, ["dir", "source"], "base")
    fields.wholes(base, ["parameters"], "base")
    digests = fields.object(base.get("sha256"), "base.sha256")
    fields.check(all(isinstance(v, str) for v in digests.values()), "base.sha256", "{file: hex digest}")


def _check_example(fields: _Fields, value, field: str) -> dict:
    """One pool example as the selection describes it: its skill measurements, rates or null."""
    example = fields.object(value, field)
    fields.rates(example, SKILL_RATES, field)
    fields.wholes(example, ["samples"], field)
    fields.wholes(example, ["var_rank"], field, low=1)
    return example


def _check_selection(fields: _Fields, value) -> None:
    selection = fields.object(value, "selection")
    _check_example(fields, selection.get("pi1"), "selection.pi1")
    _check_example(fields, selection.get("by_gap"), "selection.by_gap")
    for index, entry in enumerate(fields.list(selection.get("top"), "selection.top")):
        field = f"selection.top[{index}]"
        entry = fields.object(entry, field)
        fields.check(entry.get("score") is None or finite(entry["score"]), f"{field}.score", "a number")
        history = fields.list(entry.get("history"), f"{field}.history", "a list of accuracies within 0..1")
        fields.check(all(map(is_rate, history)), f"{field}.history", "a list of accuracies within 0..1")
    for key, example in fields.object(selection.get("pool_examples"), "selection.pool_examples").items():
        _check_example(fields, example, f"selection.pool_examples.{key}")


def _check_gate_row(fields: _Fields, value, field: str) -> None:
    row = fields.object(value, field)
    fields.wholes(row, ["n", "k", "within_problem_n"], field)
    fields.rates(row, [*GATE_RATES, *(key for key in row if key.startswith("pass@"))], field)
    gap = row.get("forced_minus_greedy")
    fields.check(gap is None or finite(gap) and -1 <= gap <= 1, f"{field}.forced_minus_greedy",
                 "a difference of rates within -1..1 or null")


def _check_gates(fields: _Fields, value) -> None:
    gates = fields.object(value, "gates")
    fields.object(gates.get("settings"), "gates.settings")
    fields.flags(gates, ["met"], "gates")
    for family, row in fields.object(gates.get("families"), "gates.families").items():
        _check_gate_row(fields, row, f"gates.families.{family}")
    _check_gate_row(fields, gates.get("all"), "gates.all")
    for index, target in enumerate(fields.list(gates.get("targets"), "gates.targets")):
        field = f"gates.targets[{index}]"
        target = fields.object(target, field)
        fields.texts(target, ["target"], field)
        fields.flags(target, ["met"], field)
        fields.check(target.get("value") is None or finite(target["value"]), f"{field}.value", "a number or null")
        values = fields.object(target.get("values"), f"{field}.values")
        fields.check(all(v is None or finite(v) for v in values.values()), f"{field}.values",
                     "{family: a number or null}")


def _check_plan(fields: _Fields, value) -> None:
    plan = fields.object(value, "plan")
    seeds = fields.list(plan.get("seeds"), "plan.seeds", "a list of distinct whole numbers ≥ 0")
    fields.check(all(is_whole(s, 0) for s in seeds) and len({int(s) for s in seeds}) == len(seeds), "plan.seeds",
                 "a list of distinct whole numbers ≥ 0")
    fields.wholes(plan, ["steps", "pool_steps", "eval_every", "held_out_n", "pool_n"], "plan")
    fields.flags(plan, ["quick"], "plan")
    for key in ("roles", "extras"):
        roles = fields.list(plan.get(key), f"plan.{key}", "a list of role names")
        fields.check(all(isinstance(r, str) for r in roles), f"plan.{key}", "a list of role names")


def _check_runs(fields: _Fields, runs: list, fmt: int) -> None:
    seen: dict[tuple, str] = {}
    for index, entry in enumerate(runs, start=1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise CommandError(f"{fields.where}: run {index} has no 'name'; the manifest is damaged")
        field = f"runs[{index - 1}]"
        seed = entry.get("seed")
        fields.check((seed is None and fmt == 1) or is_whole(seed, 0), f"{field}.seed",
                     "a whole number ≥ 0 (the seed the run trained with)")
        key = (str(entry.get("role", entry["name"])), None if seed is None else int(seed))
        if fmt > 1 and key in seen:  # one run per role and seed: a second would count twice over the seeds
            raise CommandError(f"{fields.where} {field}: a second {key[0]} run with seed {seed} ({seen[key]} is "
                               f"the first); the file is damaged")
        seen[key] = str(entry["name"])
