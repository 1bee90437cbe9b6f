"""The gates (``oneshot_rlvr.toy.gates``): each figure follows its definition on hand-made answers, the targets
hold or fail at their bounds, and a real (tiny) model is measured end to end."""

import pytest

from oneshot_rlvr.toy.gates import (CLOSING, SKILL_MARKER, TARGETS, GateSettings, ProblemRecord, forced_prefix,
                                    gate_table, measure_gates, summarize, uses_skill)


def record(family="addsub", greedy=False, forced=True, sampled=(), skills=(), greedy_skill=False, strict=False,
           boxed=False, id="p"):
    return ProblemRecord(id, family, greedy, strict, boxed, greedy_skill, forced, tuple(sampled), tuple(skills))


def test_forced_prefix_cuts_before_the_closing_and_appends_the_marker():
    greedy = " Estimate: 50 + 40 = 90. The answer is \\boxed{90}."
    assert forced_prefix(greedy) == " Estimate: 50 + 40 = 90." + SKILL_MARKER
    assert forced_prefix(" Estimate: 50 + 40 = 90.") == " Estimate: 50 + 40 = 90." + SKILL_MARKER  # cut off early
    assert forced_prefix(" Estimate: 5. Recheck: 7 + 8 = 15. The answer is 15.") is None  # already uses the skill
    assert CLOSING in greedy and uses_skill("Recheck: 1 + 1 = 2") and not uses_skill("rechecked nothing")


@pytest.mark.parametrize("sampled, skills, expected", [
    ((True, False, False, True), (True, False, False, True), (1.0, 0.0)),
    ((True, True, False, False), (True, False, True, False), (0.5, 0.5)),
    ((True, True), (False, False), None),  # never used: no within-problem comparison
    ((False, False), (True, True), None),  # always used: none either
])
def test_with_without_is_within_one_problem(sampled, skills, expected):
    assert record(sampled=sampled, skills=skills).with_without() == expected


def test_summary_rates_follow_their_definitions():
    rows = [record(greedy=True, forced=True, sampled=(True, False, True, False), skills=(True, False, False, False),
                   strict=True, boxed=True),
            record(greedy=False, forced=True, sampled=(False, False, False, False), skills=(False, True, False, False),
                   greedy_skill=True),
            record(greedy=False, forced=False, sampled=(False, False, False, True), skills=(False,) * 4)]
    row = summarize(rows)
    assert row["n"] == 3 and row["k"] == 4
    assert row["greedy"] == pytest.approx(1 / 3) and row["forced"] == pytest.approx(2 / 3)
    assert row["forced_minus_greedy"] == pytest.approx(1 / 3)
    assert row["sampled"] == pytest.approx(3 / 12)
    assert row["pass@4"] == pytest.approx(2 / 3)  # problems 1 and 3 have a right sample
    assert row["skill_greedy"] == pytest.approx(1 / 3) and row["skill_sampled"] == pytest.approx(2 / 12)
    assert row["strict_greedy"] == pytest.approx(1 / 3) and row["boxed_greedy"] == pytest.approx(1 / 3)
    # within problem: problem 1 (with 1.0, without 1/3) and problem 2 (with 0.0, without 0.0); problem 3 has no skill
    assert row["within_problem_n"] == 2
    assert row["with_skill"] == pytest.approx(0.5) and row["without_skill"] == pytest.approx(1 / 6)


def _world(greedy_skill=0.0, skill_share=0.2, forced_gain=True, families=("addsub", "mul")):
    """Ten problems per family; ``skill_share`` of each problem's 10 samples use the skill."""
    rows = []
    for family in families:
        for i in range(10):
            used = round(10 * skill_share)
            rows.append(record(family, greedy=i < 2, forced=(i < 6) if forced_gain else (i < 2),
                               sampled=(True,) * used + (False,) * (10 - used),
                               skills=(True,) * used + (False,) * (10 - used), greedy_skill=i < 10 * greedy_skill,
                               id=f"{family}-{i}"))
    return rows


def test_targets_met_by_a_world_with_a_latent_skill():
    table = gate_table(_world())
    assert table["met"] and all(check["met"] for check in table["targets"])
    assert table["all"]["forced_minus_greedy"] == pytest.approx(0.4)


@pytest.mark.parametrize("world, failing", [
    (dict(greedy_skill=0.1), "skill_greedy ≤ 0.02 (pooled)"),
    (dict(skill_share=0.4), "skill_sampled ≥ 0.1 and ≤ 0.3 (pooled)"),
    (dict(skill_share=0.0), "skill_sampled ≥ 0.1 and ≤ 0.3 (pooled)"),
    (dict(forced_gain=False), "forced_minus_greedy ≥ 0.15 (pooled)"),
])
def test_each_target_fails_on_its_own(world, failing):
    table = gate_table(_world(**world))
    assert not table["met"]
    assert [c["target"] for c in table["targets"] if not c["met"]][0] == failing


def test_every_family_must_gain_from_the_forced_skill():
    rows = _world() + [record("chain", greedy=True, forced=True, sampled=(True,) * 8, skills=(True, True) + (False,) * 6,
                              id=f"chain-{i}") for i in range(3)]
    table = gate_table(rows)
    every = next(c for c in table["targets"] if c["target"].endswith("(every family)"))
    assert every["values"]["chain"] == 0.0 and not every["met"] and not table["met"]


def test_target_bounds_are_inclusive_except_the_strict_one():
    greedy_share, sampled_share, pooled_gain, every_family = TARGETS
    assert greedy_share.holds(0.02) and not greedy_share.holds(0.0201)
    assert sampled_share.holds(0.10) and sampled_share.holds(0.30) and not sampled_share.holds(0.31)
    assert pooled_gain.holds(0.15) and not pooled_gain.holds(0.149)
    assert not every_family.holds(0.0) and every_family.holds(0.001) and not every_family.holds(None)


def test_measure_gates_on_a_tiny_model_counts_every_answer(tiny):
    """A random tiny model: the table has every family and n, and forcing the skill puts its marker in the text."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from oneshot_rlvr.toy.corpus import held_out_sets

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny), AutoTokenizer.from_pretrained(tiny)
    held_out = {family: problems[:2] for family, problems in held_out_sets(per_level=1).items()}
    table = measure_gates(model, tokenizer, held_out, GateSettings(samples=2, max_tokens=6))
    assert set(table["families"]) == set(held_out) and table["all"]["n"] == 10 and table["all"]["k"] == 2
    assert table["settings"]["samples"] == 2 and isinstance(table["met"], bool)
    again = measure_gates(model, tokenizer, held_out, GateSettings(samples=2, max_tokens=6))
    assert again == table  # seeded sampling, greedy decoding: the same table
