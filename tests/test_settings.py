"""settings.py: limits, the one checking loop, and the help and tables generated from field metadata."""

import dataclasses

import pytest

from oneshot_rlvr.settings import Limits, check_settings, help_text, markdown_table, setting


@pytest.mark.parametrize("limits, value, expected", [
    (Limits(low=1), 1, None),
    (Limits(low=1), 0, "k is 0; set it to 1 or more"),
    (Limits(low=0, zero="off"), -1, "k is -1; set it to 0 or more (0 = off)"),
    (Limits(low=0, low_open=True, fix="set a positive k"), 0.0, "k is 0.0; set a positive k"),
    (Limits(low=0, low_open=True, fix="fix"), 1e-12, None),
    (Limits(low=0, high=1, fix="fix"), 1.0, None),
    (Limits(low=0, high=1, fix="fix"), 1.5, "k is 1.5; fix"),
    (Limits(low=0, high=1, high_open=True, fix="fix"), 1.0, "k is 1.0; fix"),
    (Limits(low=0, high=4, high_open=True, high_fix="set it below 4"), 4, "k is 4; set it below 4"),
    (Limits(low=0, high=4, high_open=True, high_fix="set it below 4"), -1, "k is -1; set it to 0 or more"),
    (Limits(choices=("a", "b")), "b", None),
    (Limits(choices=("a", "b")), "c", "k has unknown value 'c'; use one of a, b"),
    (Limits(nonempty=True), " ", "k is empty; give a value"),
    (Limits(nonempty=True), "x", None),
    (Limits(low=1), None, None),  # None is "not set": optional fields are checked only when given
])
def test_limits_problem(limits, value, expected):
    assert limits.problem("k", value) == expected


@pytest.mark.parametrize("limits, text", [
    (Limits(low=1), "≥ 1"),
    (Limits(low=0, low_open=True), "> 0"),
    (Limits(low=0, low_open=True, high=1), "0 < x ≤ 1"),
    (Limits(low=0, high=2**32, high_open=True), "0 ≤ x < 2**32"),
    (Limits(choices=("grpo", "ppo")), "grpo, ppo"),
    (Limits(nonempty=True), "not empty"),
    (Limits(), ""),
])
def test_limits_text(limits, text):
    assert limits.text() == text


@dataclasses.dataclass(frozen=True)
class Example:
    size: int = setting(4, "how many", "paper", low=1)
    mode: str = setting("a", "which | mode", "here", choices=("a", "b"))
    name: str | None = setting(None, "a name", "verl", nonempty=True)


def test_check_settings_raises_for_the_first_bad_field_in_order():
    def error(message, key):
        return ValueError(f"{key}: {message}")

    check_settings(Example(), error)
    with pytest.raises(ValueError, match="^size: size is 0; set it to 1 or more$"):
        check_settings(Example(size=0, mode="c"), error)
    with pytest.raises(ValueError, match="^mode: mode has unknown value 'c'"):
        check_settings(Example(mode="c"), error)
    with pytest.raises(ValueError, match="^name: name is empty"):
        check_settings(Example(name=""), error)


def test_help_and_table_come_from_the_metadata():
    assert help_text(Example, "size") == "how many; limits: ≥ 1; source: paper; default: 4"
    assert help_text(Example, "mode", default=False) == "which | mode; one of: a, b; source: here"
    assert markdown_table(Example).splitlines() == [
        "| key | default | source | limits | what it is |", "|---|---|---|---|---|",
        "| `size` | `4` | paper | ≥ 1 | how many |",
        "| `mode` | `a` | here | a, b | which \\| mode |",
        "| `name` | `null` | verl | not empty | a name |",
    ]
    assert markdown_table(Example, ["mode"]).count("\n") == 3


def test_help_text_doubles_percent_signs_for_argparse_only():
    @dataclasses.dataclass
    class Rate:
        share: float = setting(0.5, "50% of rows", "here")

    assert help_text(Rate, "share").startswith("50%% of rows")
    assert help_text(Rate, "share", escape=False).startswith("50% of rows")


def test_a_source_outside_the_list_is_refused():
    with pytest.raises(ValueError, match="source 'blog'"):
        setting(1, "x", "blog")
