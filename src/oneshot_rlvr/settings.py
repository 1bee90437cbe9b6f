"""Settings whose help, source and limits live in dataclass field metadata (``TrainRecipe``, ``EvalConfig``).

``setting(default, help, source, **limits)`` declares a field, as TRL's ``GRPOConfig`` does with
``metadata={"help": ...}``; ``check_settings`` is the one loop that checks every field against its limits;
``help_text`` and ``markdown_table`` turn the same metadata into ``--help`` text and the tables in README.md
and docs/recipe.md. Checks that involve several fields stay in each class's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

SOURCES = {  # where a default comes from
    "paper": "Wang et al. 2025 (arXiv 2504.20571), its training and evaluation details",
    "verl": "the paper's verl launch script and code",
    "TRL": "trl 1.16 GRPOConfig",
    "here": "this project's choice",
}


class SettingError(ValueError):
    """A bad setting: one line saying what, where and how to fix; ``key`` names the field when there is one."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line
        self.key = key


@dataclass(frozen=True)
class Limits:
    """What a field accepts. ``fix`` says how to repair a value out of range (default: "set it to LOW or more"),
    ``high_fix`` a value above ``high`` when that needs other words; ``zero`` what 0 means, added to the default
    fix ("0 = off")."""

    choices: tuple | None = None
    low: float | None = None
    low_open: bool = False  # low itself is refused
    high: float | None = None
    high_open: bool = False  # high itself is refused
    nonempty: bool = False  # a string must hold more than spaces
    fix: str | None = None
    high_fix: str | None = None
    zero: str | None = None

    def problem(self, key: str, value: Any) -> str | None:
        """The one-line message for a bad ``value`` of ``key``, or None when it is within the limits."""
        if value is None:
            return None
        if self.choices is not None and value not in self.choices:
            return f"{key} has unknown value {value!r}; use one of {', '.join(map(str, self.choices))}"
        if self.nonempty and isinstance(value, str) and not value.strip():
            return f"{key} is empty; give a value"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_high and self.high_fix:
            return f"{key} is {value}; {self.high_fix}"
        if too_low or too_high:
            zero = f" (0 = {self.zero})" if self.zero else ""
            return f"{key} is {value}; {self.fix or f'set it to {self.low} or more{zero}'}"
        return None

    def text(self) -> str:
        """The limits as a short phrase for tables: "≥ 1", "0 < x ≤ 1", "grpo, ppo"."""
        if self.choices is not None:
            return ", ".join(map(str, self.choices))
        low = None if self.low is None else f"{_number(self.low)} {'<' if self.low_open else '≤'} "
        high = None if self.high is None else f" {'<' if self.high_open else '≤'} {_number(self.high)}"
        if low and high:
            return f"{low}x{high}"
        if low:
            return f"{'>' if self.low_open else '≥'} {_number(self.low)}"
        if high:
            return high.strip()
        return "not empty" if self.nonempty else ""


def _number(value: float) -> str:
    """``1e-06``, ``0.5``; a large power of two as ``2**32``."""
    if isinstance(value, int) and value >= 2**16 and value & (value - 1) == 0:
        return f"2**{value.bit_length() - 1}"
    return f"{value:g}"


def setting(default: Any = dataclasses.MISSING, help: str = "", source: str = "here", *,  # noqa: A002
            default_factory: Any = dataclasses.MISSING, hash: bool | None = None, **limits) -> Any:  # noqa: A002
    """A dataclass field with its ``help``, ``source`` (a key of SOURCES) and ``Limits`` in its metadata."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    metadata = {"help": help, "source": source, "limits": Limits(**limits)}
    return dataclasses.field(default=default, default_factory=default_factory, hash=hash, metadata=metadata)


def check_settings(instance: Any, error: Callable[[str, str], Exception]) -> None:
    """Raise ``error(message, key)`` for the first field of ``instance`` outside its limits (in field order)."""
    for f in dataclasses.fields(instance):
        limits = f.metadata.get("limits")
        message = limits and limits.problem(f.name, getattr(instance, f.name))
        if message:
            raise error(message, f.name)


def metadata(cls: type, name: str) -> dict:
    return next(f.metadata for f in dataclasses.fields(cls) if f.name == name)


def default_of(cls: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def help_text(cls: type, name: str, *, default: bool = True, escape: bool = True) -> str:
    """``--help`` text of field ``name``: its help, limits, source and (``default``) default; ``escape``: % doubled,
    as argparse's ``help=`` needs (not its epilog)."""
    meta = metadata(cls, name)
    limits = meta["limits"].text() if not meta["limits"].nonempty else ""
    kind = "one of" if meta["limits"].choices is not None else "limits"
    parts = [meta["help"], limits and f"{kind}: {limits}", f"source: {meta['source']}"]
    if default:
        parts.append(f"default: {_shown(default_of(cls, name))}")
    text = "; ".join(part for part in parts if part)
    return text.replace("%", "%%") if escape else text


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def markdown_table(cls: type, names: list[str] | None = None) -> str:
    """A markdown table of ``cls``'s fields (``names``, default all): key, default, source, limits, meaning."""
    rows = ["| key | default | source | limits | what it is |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if names is not None and f.name not in names:
            continue
        meta = f.metadata
        cell = meta["help"].replace("|", "\\|")
        limits = meta["limits"].text().replace("|", "\\|")
        rows.append(f"| `{f.name}` | `{_shown(default_of(cls, f.name))}` | {meta['source']} | {limits} | {cell} |")
    return "\n".join(rows) + "\n"
