"""Prompt templates: how a question becomes the text a model continues.

| name | messages | source |
|---|---|---|
| ``qwen25-math-cot`` | system "Please reason step by step, and put your final answer within \\boxed{}.", user: the question | the paper's evaluation (Qwen2.5-Math evaluation suite) |
| ``deepscaler`` | user: question + " Let's think step by step and output the final answer within \\boxed{}." | the paper's training prompt (DSR-sub rows) |
| ``raw`` | the question as plain text, no chat template | base-model probing |
| ``toy`` | "Question: {question}\nAnswer:", no chat template | the toy world's documents (``oneshot_rlvr.toy``) |

Chat templates are applied through the tokenizer's own ``chat_template`` (with the generation prompt)
when it has one; a tokenizer without one gets the messages joined as plain text. Note: some templates
add a default system prompt when none is given (SmolLM2's does), exactly as they would for any user.
"""

from __future__ import annotations

from dataclasses import dataclass

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
DEEPSCALER_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


@dataclass(frozen=True)
class PromptTemplate:
    """``system`` (or None) and ``user`` (with ``{question}``); ``chat`` False means plain text."""

    name: str
    user: str
    system: str | None = None
    chat: bool = True

    def messages(self, question: str) -> list[dict]:
        """Chat messages: ``[{"role": "system"|"user", "content": str}, ...]``."""
        user = {"role": "user", "content": self.user.replace("{question}", question)}
        return ([{"role": "system", "content": self.system}] if self.system else []) + [user]


TEMPLATES: dict[str, PromptTemplate] = {
    template.name: template
    for template in [
        PromptTemplate("qwen25-math-cot", "{question}", QWEN_MATH_SYSTEM),
        PromptTemplate("deepscaler", "{question}" + DEEPSCALER_SUFFIX),
        PromptTemplate("raw", "{question}", chat=False),
        PromptTemplate("toy", "Question: {question}\nAnswer:", chat=False),
    ]
}


def get_template(name: str) -> PromptTemplate:
    if name not in TEMPLATES:
        raise ValueError(f"unknown prompt template {name!r}; choose one of {', '.join(TEMPLATES)}")
    return TEMPLATES[name]


def render_prompt(tokenizer, template: PromptTemplate, question: str) -> str:
    """The prompt text for ``question``: the tokenizer's chat template when it has one, else plain text."""
    if not template.chat:
        return template.user.replace("{question}", question)
    messages = template.messages(question)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(message["content"] for message in messages) + "\n\n"


def uses_chat_template(tokenizer, template: PromptTemplate) -> bool:
    """True when the rendered prompt already holds the model's special tokens (so add none when encoding)."""
    return template.chat and bool(getattr(tokenizer, "chat_template", None))
