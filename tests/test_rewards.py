"""Training rewards in TRL's reward-function signature."""

from __future__ import annotations

import pytest

from oneshot_rlvr import rewards
from oneshot_rlvr.rewards import (REWARD_KINDS, completion_text, format_reward, make_reward, none_reward,
                                  outcome_reward)

PROMPTS = ["What is 6 * 7?"] * 5
COMPLETIONS = [
    r"6 * 7 = 42, so \boxed{42}.",  # right, boxed
    r"\boxed{41}",  # wrong, boxed
    "6 * 7 = 42. The answer is 42.",  # right, not boxed
    r"First \boxed{40}, no wait: \boxed{42}",  # the last box counts
    r"It is \boxed{42",  # truncated box: no complete answer
]
ANSWERS = ["42"] * 5


def chat(text, *, parts=False):
    content = [{"type": "text", "text": text}] if parts else text
    return [{"role": "assistant", "content": content}]


def test_kinds():
    assert REWARD_KINDS[:6] == ("outcome", "format", "none", "random", "incorrect", "majority")
    for kind in REWARD_KINDS:
        assert make_reward(kind, rollouts=2).__name__ == f"{kind}_reward"


def test_outcome_reward_strict_by_default():
    assert outcome_reward(prompts=PROMPTS, completions=COMPLETIONS, answer=ANSWERS) == [1.0, 0.0, 0.0, 1.0, 0.0]


def test_outcome_reward_lenient_credits_unboxed_answers():
    lenient = make_reward("outcome", mode="lenient")
    # lenient falls back to "the answer is" and the last number (so the truncated box's 42 counts too)
    assert lenient(prompts=PROMPTS, completions=COMPLETIONS, answer=ANSWERS) == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert lenient.__name__ == "outcome_reward" and lenient.mode == "lenient"
    assert outcome_reward.mode == "strict"


def test_positional_call_and_extra_trl_arguments():
    # TRL also passes completion_ids, trainer_state and every other dataset column
    scores = outcome_reward(PROMPTS[:2], COMPLETIONS[:2], answer=ANSWERS[:2], completion_ids=[[1], [2]],
                            trainer_state=object(), source=["a", "b"])
    assert scores == [1.0, 0.0]


def test_numeric_and_equivalent_gold_answers():
    completions = [r"\boxed{\frac{1}{2}}", r"\boxed{0.5}", r"\boxed{1/3}", r"\boxed{x^2+2x+1}"]
    answers = [0.5, "1/2", "0.5", "(x+1)^2"]
    assert make_reward("outcome", timeout=10)(completions=completions, answer=answers) == [1.0, 1.0, 0.0, 1.0]


def test_outcome_reward_on_chat_completions():
    completions = [chat(text) for text in COMPLETIONS]
    assert outcome_reward(prompts=PROMPTS, completions=completions, answer=ANSWERS) == [1.0, 0.0, 0.0, 1.0, 0.0]
    with_parts = [chat(text, parts=True) for text in COMPLETIONS]
    assert outcome_reward(prompts=PROMPTS, completions=with_parts, answer=ANSWERS) == [1.0, 0.0, 0.0, 1.0, 0.0]


def test_chat_completion_uses_the_last_assistant_message():
    conversation = [
        {"role": "assistant", "content": r"\boxed{42}"},
        {"role": "tool", "content": r"\boxed{1}"},
        {"role": "assistant", "content": [{"type": "text", "text": r"so \boxed"},
                                          {"type": "image"},
                                          {"type": "text", "text": "{41}"}]},
        {"role": "user", "content": r"\boxed{42}"},
    ]
    assert completion_text(conversation) == r"so \boxed{41}"
    assert outcome_reward(completions=[conversation], answer=["41"]) == [1.0]
    assert completion_text([{"role": "user", "content": "hi"}]) == ""
    assert completion_text({"role": "assistant", "content": "single"}) == "single"
    with pytest.raises(TypeError, match="completion must be a string"):
        completion_text(42)


def test_format_reward():
    assert format_reward(prompts=PROMPTS, completions=COMPLETIONS) == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert format_reward(completions=[chat(r"\boxed{anything}"), chat("none")]) == [1.0, 0.0]
    # the format reward needs no gold answer column
    assert format_reward.__name__ == "format_reward"


def test_none_reward():
    assert none_reward(prompts=PROMPTS, completions=COMPLETIONS, answer=ANSWERS) == [0.0] * 5
    assert none_reward(completions=[chat("x")]) == [0.0]
    assert none_reward.__name__ == "none_reward"


def test_rewards_are_floats_and_empty_batches_work():
    scores = outcome_reward(completions=COMPLETIONS, answer=ANSWERS)
    assert all(type(score) is float for score in scores)
    for reward in (outcome_reward, format_reward, none_reward):
        assert reward(prompts=[], completions=[], answer=[]) == []


def test_missing_answer_column_names_it_and_the_columns_passed():
    with pytest.raises(ValueError) as error:
        outcome_reward(prompts=PROMPTS, completions=COMPLETIONS, solution=ANSWERS, level=[1] * 5)
    message = str(error.value)
    assert "'answer'" in message and "level, solution" in message


def test_custom_answer_column():
    reward = make_reward("outcome", answer_column="solution")
    assert reward(completions=COMPLETIONS[:2], solution=["42", "41"]) == [1.0, 1.0]
    with pytest.raises(ValueError, match="'solution'"):
        reward(completions=COMPLETIONS[:2], answer=["42", "41"])


def test_answer_column_must_match_the_completions():
    with pytest.raises(ValueError, match="2 values for 5 completions"):
        outcome_reward(completions=COMPLETIONS, answer=["42", "42"])
    with pytest.raises(ValueError, match="one gold answer per completion"):
        outcome_reward(completions=COMPLETIONS[:2], answer="42")
    with pytest.raises(ValueError, match="None"):
        outcome_reward(completions=COMPLETIONS[:2], answer=["42", None])
    with pytest.raises(ValueError, match="no gold answer"):  # else an empty \boxed{} would score 1.0
        outcome_reward(completions=[r"\boxed{}"], answer=[""])


def test_factory_checks_its_arguments():
    with pytest.raises(ValueError, match="reward kind"):
        make_reward("accuracy")
    with pytest.raises(ValueError, match="grading mode"):
        make_reward("outcome", mode="loose")
    with pytest.raises(ValueError, match="timeout"):
        make_reward("outcome", timeout=0)
    with pytest.raises(ValueError, match="workers"):
        make_reward("outcome", workers=0)
    with pytest.raises(ValueError, match="answer_column"):
        make_reward("outcome", answer_column="")


def test_names_are_readable_and_distinct():
    assert (outcome_reward.__name__, format_reward.__name__, none_reward.__name__) == (
        "outcome_reward", "format_reward", "none_reward")
    assert make_reward("outcome", mode="lenient", name="lenient_outcome_reward").__name__ == "lenient_outcome_reward"
    assert rewards.outcome_reward is outcome_reward


# --- random with a rate, incorrect, majority (the spurious and label-free rewards) ----------------------

def test_random_reward_at_the_default_rate_draws_what_it_always_drew():
    import random

    draws = random.Random("random-reward/5")  # the seeding of runs made before the rate existed
    expected = [float(draws.random() < 0.5) for _ in range(300)]
    assert make_reward("random", seed=5)(completions=["x"] * 300) == expected
    assert make_reward("random", seed=5, rate=0.5)(completions=["x"] * 300) == expected


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.8])
def test_random_reward_rate_within_binomial_bounds_and_reproducible(rate):
    n = 5000
    scores = make_reward("random", seed=11, rate=rate)(completions=["x"] * n)
    assert set(scores) <= {0.0, 1.0}
    # 5 standard deviations of a binomial share: a false failure about once in 3.5 million runs
    assert abs(sum(scores) / n - rate) < 5 * (rate * (1 - rate) / n) ** 0.5
    assert make_reward("random", seed=11, rate=rate)(completions=["y"] * n) == scores  # seed alone decides
    assert make_reward("random", seed=12, rate=rate)(completions=["x"] * n) != scores


def test_random_reward_rate_edges_and_limits():
    assert make_reward("random", rate=0.0)(completions=["x"] * 50) == [0.0] * 50
    assert make_reward("random", rate=1.0)(completions=["x"] * 50) == [1.0] * 50
    for bad in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="rate must be a probability"):
            make_reward("random", rate=bad)


def test_incorrect_reward_grades_against_the_answer_column():
    # the train stage puts the wrong labels in the answer column; the reward itself is outcome's
    incorrect = make_reward("incorrect")
    assert incorrect(completions=COMPLETIONS, answer=["41"] * 5) == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert incorrect(completions=COMPLETIONS, answer=ANSWERS) == outcome_reward(completions=COMPLETIONS, answer=ANSWERS)


MAJORITY_GROUPS = [
    # group 1: \boxed{0.5} and \boxed{\frac12} are one answer (2 votes) against 3 (1 vote); a row without a box
    ([r"so \boxed{0.5}", r"\boxed{\frac12}", r"\boxed{3}", "I do not know"], [1.0, 1.0, 0.0, 0.0]),
    # group 2: a 2-2 tie between 7 and 4: the answer seen first (7) wins, as TTRL's Counter.most_common
    ([r"\boxed{7}", r"\boxed{4}", r"\boxed{4}", r"\boxed{7.0}"], [1.0, 0.0, 0.0, 1.0]),
    # group 3: no answer at all (an empty box is none): nobody is rewarded
    (["no box", r"\boxed{}", "still none", r"truncated \boxed{5"], [0.0, 0.0, 0.0, 0.0]),
    # group 4: one answer among no-answers is the majority (no-answer rows never vote)
    ([r"\boxed{x+1}", "none", r"\boxed{1+x}", "none"], [1.0, 0.0, 1.0, 0.0]),
]


def test_majority_reward_against_hand_computed_groups():
    completions = [text for group, _ in MAJORITY_GROUPS for text in group]
    expected = [score for _, scores in MAJORITY_GROUPS for score in scores]
    prompts = [f"problem {g}" for g in range(len(MAJORITY_GROUPS)) for _ in range(4)]
    majority = make_reward("majority", rollouts=4, timeout=10)
    assert majority(prompts=prompts, completions=completions) == expected
    assert majority.__name__ == "majority_reward"
    # chat completions and a batch without prompts read the same
    assert majority(completions=[chat(text) for text in completions]) == expected


def test_majority_reward_groups_are_consecutive_rollouts():
    majority = make_reward("majority", rollouts=2, timeout=10)
    # as groups of 2: (1, 1) agree, (2, 3) tie -> 2; as one group of 4 the answer 1 would win everywhere
    texts = [r"\boxed{1}", r"\boxed{1}", r"\boxed{2}", r"\boxed{3}"]
    assert majority(completions=texts) == [1.0, 1.0, 1.0, 0.0]
    assert make_reward("majority", rollouts=4, timeout=10)(completions=texts) == [1.0, 1.0, 0.0, 0.0]


def test_majority_reward_lenient_reads_unboxed_answers():
    texts = ["The answer is 12.", r"\boxed{12}", "so it is 13", r"\boxed{13}", "13"]
    assert make_reward("majority", rollouts=5, mode="lenient", timeout=10)(completions=texts) == [
        0.0, 0.0, 1.0, 1.0, 1.0]
    # strict: only the two boxes vote, a 1-1 tie that the first box (12) wins
    assert make_reward("majority", rollouts=5, timeout=10)(completions=texts) == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_majority_reward_refuses_what_it_cannot_group():
    with pytest.raises(ValueError, match="rollouts="):
        make_reward("majority")
    with pytest.raises(ValueError, match="rollouts="):
        make_reward("majority", rollouts=1)
    majority = make_reward("majority", rollouts=4)
    with pytest.raises(ValueError, match="groups of 4 rollouts, but the batch holds 6"):
        majority(completions=["x"] * 6)
    with pytest.raises(ValueError, match="do not share one prompt"):
        majority(prompts=["a", "a", "b", "b"], completions=["x"] * 4)
    assert majority(prompts=[], completions=[]) == []
