"""The hf backend: same greedy text as per-prompt ``model.generate``, seeded sampling, stops, lengths."""

import pytest
import torch

from oneshot_rlvr.generation import BackendError, HFBackend, SamplingParams, VLLMBackend
from oneshot_rlvr.models import tiny_random_model

PROMPTS = ["What is 1+1?", "Compute \\frac{3}{4} + 12 please, quickly and carefully", "x",
           "a longer prompt with many words in it, to need padding", "b", "7*8=", "Solve: 2x + 3 = 11"]


@pytest.fixture(scope="module")
def peaky():
    """A tiny random model whose greedy continuations vary (scaled embeddings sharpen its logits)."""
    loaded = tiny_random_model(seed=3)
    with torch.no_grad():
        loaded.model.model.embed_tokens.weight.mul_(40)
    return loaded


def reference_greedy(loaded, prompt: str, max_tokens: int) -> str:
    ids = loaded.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    out = loaded.model.generate(**ids, max_new_tokens=max_tokens, do_sample=False,
                                pad_token_id=loaded.tokenizer.pad_token_id)
    return loaded.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 16])
def test_greedy_matches_per_prompt_generate(peaky, batch_size):
    backend = HFBackend(peaky.model, peaky.tokenizer, batch_size=batch_size)
    results = backend.generate(PROMPTS, SamplingParams(max_tokens=24))
    texts = [r[0].text for r in results]
    assert texts == [reference_greedy(peaky, p, 24) for p in PROMPTS]
    assert len(set("".join(texts))) > 5  # the check is not vacuous: continuations differ


def test_seeded_sampling_is_reproducible_and_independent_of_batching():
    peaky = tiny_random_model(seed=3)  # not sharpened: sampling has room to differ
    params = SamplingParams(n=3, temperature=1.0, top_p=0.9, max_tokens=12, seed=7)
    first = HFBackend(peaky.model, peaky.tokenizer, batch_size=2).generate(PROMPTS, params)
    second = HFBackend(peaky.model, peaky.tokenizer, batch_size=16).generate(PROMPTS, params)
    assert [[c.text for c in row] for row in first] == [[c.text for c in row] for row in second]
    assert all(len(row) == 3 for row in first)
    other_seed = HFBackend(peaky.model, peaky.tokenizer).generate(PROMPTS, SamplingParams(
        n=3, temperature=1.0, top_p=0.9, max_tokens=12, seed=8))
    assert [[c.text for c in row] for row in other_seed] != [[c.text for c in row] for row in first]


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.6, 1.0), (1.0, 0.7)])
def test_sampling_draws_from_the_tempered_nucleus(temperature, top_p):
    """Frequencies over 20,000 rows (one generator each) match softmax(logits / T) cut to the top-p nucleus;
    tokens of probability 0 (masked, or outside the nucleus) are never drawn."""
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, float("-inf")])
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1:  # nucleus: the tokens whose preceding mass is below top_p (probs are sorted here)
        probs = torch.where(probs.cumsum(-1) - probs < top_p, probs, torch.zeros_like(probs))
        probs = probs / probs.sum()
    rows = 20_000

    def draw():  # one token per row, each row with its own seeded generator
        return HFBackend._sample(logits.expand(rows, -1), [torch.Generator().manual_seed(1000 + i) for i in range(rows)],
                                 SamplingParams(temperature=temperature, top_p=top_p, max_tokens=1))

    tokens = draw()
    counts = torch.bincount(tokens, minlength=len(logits)).double()
    expected = probs.double() * rows
    assert (counts[expected == 0] == 0).all()
    spread = (expected * (1 - probs.double())).sqrt()  # binomial standard deviation
    assert ((counts - expected).abs() <= 5 * spread + 1)[expected > 0].all(), (counts, expected)
    assert torch.equal(tokens, draw())  # same seeds, same tokens


def test_length_cap_and_finish_reasons(peaky):
    results = HFBackend(peaky.model, peaky.tokenizer).generate(PROMPTS, SamplingParams(max_tokens=5))
    for row in results:
        completion = row[0]
        assert completion.num_tokens <= 5
        assert completion.finish_reason == ("length" if completion.num_tokens == 5 else "stop")


def test_stop_strings_end_a_row_and_are_cut(peaky):
    backend = HFBackend(peaky.model, peaky.tokenizer)
    free = backend.generate(PROMPTS, SamplingParams(max_tokens=24))
    text = next(r[0].text for r in free if len(r[0].text) > 6)
    stop = text[3:5]
    stopped = backend.generate(PROMPTS, SamplingParams(max_tokens=24, stop=(stop,)))
    for plain, cut in zip(free, stopped):
        if stop in plain[0].text:
            assert cut[0].text == plain[0].text[: plain[0].text.index(stop)]
            assert cut[0].finish_reason == "stop"
        else:
            assert cut[0].text == plain[0].text


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"temperature": -1}, {"top_p": 0}, {"max_tokens": 0}])
def test_bad_sampling_params(kwargs):
    with pytest.raises(ValueError):
        SamplingParams(**kwargs)


def test_vllm_missing_gives_a_clear_message():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(BackendError, match=r"pip install 'oneshot-rlvr\[vllm\]'"):
            VLLMBackend("some/model")
    else:
        pytest.skip("vLLM is installed here")


@pytest.mark.parametrize("batch_size", [2, 16])
def test_repeated_prompts_share_one_prefill_and_still_match_generate(peaky, batch_size):
    """A 1-shot batch (one prompt many times, mixed with others): each distinct prompt runs once, same output."""
    prompts = [PROMPTS[1]] * 5 + [PROMPTS[3], PROMPTS[1]]
    results = HFBackend(peaky.model, peaky.tokenizer, batch_size=batch_size).generate(
        prompts, SamplingParams(n=2, max_tokens=16))
    for prompt, row in zip(prompts, results):
        assert [c.text for c in row] == [reference_greedy(peaky, prompt, 16)] * 2


def test_generate_ids_reports_the_ending_eos_and_one_logprob_per_sampled_token(peaky):
    from collections import Counter

    backend = HFBackend(peaky.model, peaky.tokenizer)
    prompt_ids = [peaky.tokenizer(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    params = SamplingParams(n=2, temperature=0.7, max_tokens=10, seed=1)
    emitted = Counter(t for row in backend.generate_ids(prompt_ids, params) for g in row for t in g.token_ids)
    backend.eos_ids = {emitted.most_common(3)[-1][0]}  # the random model never says EOS: make a common token one
    rows = backend.generate_ids(prompt_ids, params, logprobs=True)
    ended = [g for row in rows for g in row if g.finish_reason == "stop"]
    capped = [g for row in rows for g in row if g.finish_reason == "length"]
    assert ended and capped  # both kinds occur, so both branches are checked
    for g in ended:
        assert g.eos_token_id in backend.eos_ids and len(g.logprobs) == len(g.token_ids) + 1
    for g in capped:
        assert g.eos_token_id is None and len(g.token_ids) == 10 and len(g.logprobs) == 10
    assert all(lp <= 0 for row in rows for g in row for lp in g.logprobs)
    assert backend.generate_ids(prompt_ids[:1], SamplingParams(max_tokens=4))[0][0].logprobs is None
