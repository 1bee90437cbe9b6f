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
    assert REWARD_KINDS == ("outcome", "format", "none", "random")
    for kind in REWARD_KINDS:
        assert make_reward(kind).__name__ == f"{kind}_reward"


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
