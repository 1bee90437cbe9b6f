"""The toy world's base model (``oneshot_rlvr.toy.model``): its tokenizer, pretraining, the cache, and
— a small, fast version of the issue's acceptance — that the corpus knobs move what the pretrained base
model does in the intended direction.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace

import pytest

from oneshot_rlvr.toy.corpus import CorpusKnobs, corpus, held_out_sets, prompt_text, training_pool
from oneshot_rlvr.toy.model import SPECIAL, ToyModelSpec, build_tokenizer, pretrain, toy_cache_dir


@pytest.fixture(autouse=True)
def one_thread():
    """Run torch on one thread: on the shared 2-core machine torch's two OpenMP threads, competing with other
    jobs, made a 150-step pretraining take 340 s instead of 9 s."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- tokenizer ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def documents() -> list[tuple[str, str]]:
    return corpus(CorpusKnobs(documents=600, slip_rate=0.2, recheck_rate=0.5, boxed_rate=0.5, seed=2))


@pytest.fixture(scope="module")
def tokenizer(documents):
    questions = [p.question for problems in held_out_sets().values() for p in problems]
    return build_tokenizer([p + a for p, a in documents] + questions + [p.question for p in training_pool()])


def test_tokenizer_round_trips_corpus_documents_exactly(tokenizer, documents):
    for prompt, answer in documents:
        for text in (prompt + answer, prompt, answer):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert tokenizer.unk_token_id not in ids, text
            assert tokenizer.decode(ids) == text
        with_bos = tokenizer(prompt + answer)["input_ids"]
        assert tokenizer.decode(with_bos, skip_special_tokens=True) == prompt + answer


def test_prompt_and_solution_tokenize_apart_as_together(tokenizer, documents):
    """pretrain encodes prompt and solution separately; generation continues the prompt's tokens: the two
    agree only if the split point is a token boundary."""
    for prompt, answer in documents[:200]:
        apart = tokenizer(prompt)["input_ids"] + tokenizer(answer, add_special_tokens=False)["input_ids"]
        assert apart == tokenizer(prompt + answer)["input_ids"]


def test_digits_are_single_tokens(tokenizer, documents):
    tokens = tokenizer.tokenize(" 2180 * 7 = 15260.")
    assert [t.strip() for t in tokens if re.search(r"\d", t)] == list("2180715260"), tokens
    for token in tokenizer.get_vocab():
        if re.search(r"\d", token):
            assert re.fullmatch(r" ?\d", token), token
    assert set("0123456789") <= set(tokenizer.get_vocab())
    for prompt, answer in documents[:200]:  # every number in a document is read digit by digit
        ids = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
        digits = [t.strip() for t in tokenizer.convert_ids_to_tokens(ids) if re.search(r"\d", t)]
        assert digits == re.findall(r"\d", prompt + answer)


def test_special_tokens_and_the_bos_post_processor(tokenizer):
    assert [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL] == [0, 1, 2, 3]
    assert (tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token) == tuple(SPECIAL)
    text = prompt_text("What is 47 + 38?")
    plain = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer(text)["input_ids"] == [tokenizer.bos_token_id] + plain
    assert tokenizer(text, add_special_tokens=True)["input_ids"] == [tokenizer.bos_token_id] + plain
    assert tokenizer.bos_token_id not in plain and tokenizer.eos_token_id not in tokenizer(text)["input_ids"]
    assert tokenizer(" zebra", add_special_tokens=False)["input_ids"] == [tokenizer.unk_token_id]


def test_padding_is_on_the_left(tokenizer):
    assert tokenizer.padding_side == "left"
    batch = tokenizer([prompt_text("What is 7 * 8?"), prompt_text("What is 47 + 38 - 15?")], padding=True)
    short, long = batch["input_ids"]
    assert len(short) == len(long)
    pads = len(tokenizer(prompt_text("What is 47 + 38 - 15?"))["input_ids"]) - len(
        tokenizer(prompt_text("What is 7 * 8?"))["input_ids"])
    assert pads > 0 and short[:pads] == [tokenizer.pad_token_id] * pads and short[pads] == tokenizer.bos_token_id
    assert batch["attention_mask"][0][:pads] == [0] * pads and batch["attention_mask"][1] == [1] * len(long)


def test_tokenizer_survives_save_and_auto_load(tmp_path, tokenizer, documents):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded.padding_side == "left"
    assert (loaded.bos_token_id, loaded.eos_token_id, loaded.pad_token_id, loaded.unk_token_id) == (1, 2, 0, 3)
    for prompt, answer in documents[:100]:
        for special in (True, False):
            ids = loaded(prompt + answer, add_special_tokens=special)["input_ids"]
            assert ids == tokenizer(prompt + answer, add_special_tokens=special)["input_ids"]
        assert loaded.decode(loaded(prompt + answer, add_special_tokens=False)["input_ids"]) == prompt + answer


# --- pretraining and the cache ------------------------------------------------------------------------

TINY = ToyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=3, batch_size=8)
TINY_KNOBS = CorpusKnobs(documents=60, seed=1)


def test_pretrain_writes_a_whole_hugging_face_folder(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lines = []
    out = tmp_path / "base"
    record = pretrain(TINY_KNOBS, TINY, out, log=lines.append)
    assert record["knobs"] == asdict(TINY_KNOBS) and record["spec"] == asdict(TINY)
    assert record["documents"] == TINY_KNOBS.documents and record["parameters"] > 0 and record["tokens"] > 0
    assert record["final_loss"] > 0 and record["seconds"] > 0
    assert json.loads((out / "toy_base.json").read_text()) == record
    assert not (out / "trainer").exists() and not (tmp_path / ".base.partial").exists()
    assert any("pretraining step" in line for line in lines)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.vocab_size == len(tokenizer) and model.config.num_hidden_layers == TINY.layers
    assert model.config.hidden_size == TINY.hidden_size
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    assert sum(p.numel() for p in model.parameters()) == record["parameters"]
    # the held-out and pool questions can be read by the tokenizer with no unknown word
    for question in [p.question for ps in held_out_sets().values() for p in ps] + [p.question for p in training_pool()]:
        assert tokenizer.unk_token_id not in tokenizer(prompt_text(question))["input_ids"], question


def test_the_cache_folder_is_keyed_by_every_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_RLVR_CACHE", str(tmp_path / "cache"))
    folder = toy_cache_dir(TINY_KNOBS, TINY)
    assert folder.is_relative_to(tmp_path / "cache")
    assert toy_cache_dir(CorpusKnobs(documents=60, seed=1, boxed_rate=0.9), TINY) != folder
    assert toy_cache_dir(CorpusKnobs(documents=60, seed=1, route="estimate"), TINY) != folder
    assert toy_cache_dir(TINY_KNOBS, ToyModelSpec(**{**asdict(TINY), "steps": 4})) != folder
    assert toy_cache_dir(CorpusKnobs(documents=60, seed=1), TINY) == folder  # equal settings, same folder


# --- the corpus knobs move the base model (a small, fast version) ----------------------------------------

SMALL = ToyModelSpec(hidden_size=64, layers=2, heads=2, intermediate_size=128, steps=150, batch_size=8)  # 8 packed rows ≈ 25 documents
BASE_KNOBS = CorpusKnobs(documents=3000, slip_rate=0.15, recheck_rate=0.0, boxed_rate=0.0)


def _pretrain_and_generate(folder, knobs: CorpusKnobs, spec: ToyModelSpec, max_tokens: int = 80) -> list[str]:
    """Greedy outputs of a base pretrained with ``knobs`` on 40 held-out prompts (8 per family, all levels)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from oneshot_rlvr.generation import HFBackend, SamplingParams

    pretrain(knobs, spec, folder, log=lambda line: None)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    prompts = [prompt_text(p.question) for problems in held_out_sets(per_level=20).values() for p in problems[::8]]
    assert len(prompts) == 40
    outputs = HFBackend(model, tokenizer, batch_size=64).generate(
        prompts, SamplingParams(temperature=0.0, max_tokens=max_tokens), add_special_tokens=True)
    return [completions[0].text for completions in outputs]


def _share(texts: list[str], test) -> float:
    return sum(bool(test(text)) for text in texts) / len(texts)


def test_boxed_rate_moves_the_boxed_share_of_greedy_answers(tmp_path):
    """The pair differs in one knob, boxed_rate 0 → 1. ~20 s on the shared 2-core CPU (two 150-step
    pretrainings); the boxed model boxed 40/40 answers for model seeds 0 and 1."""
    from oneshot_rlvr.grading import has_boxed

    base = _pretrain_and_generate(tmp_path / "base", BASE_KNOBS, SMALL)
    boxed = _pretrain_and_generate(tmp_path / "boxed", replace(BASE_KNOBS, boxed_rate=1.0), SMALL)
    assert _share(base, has_boxed) == 0.0  # never seen in pretraining
    assert _share(boxed, has_boxed) >= 0.6, boxed[:5]


@pytest.mark.slow
def test_recheck_rate_moves_the_share_of_answers_that_recheck(tmp_path):
    """The pair differs in one knob, recheck_rate 0 → 1. Slow (~80 s on the shared 2-core CPU): a rechecked
    solution is about twice as long, and a model with 150 steps had not yet learned to start it (0–8 % of
    greedy answers). With 300 steps the share was 0.78, 0.68 and 0.58 for model seeds 0, 1 and 2."""
    spec = replace(SMALL, steps=300)
    base = _pretrain_and_generate(tmp_path / "base", BASE_KNOBS, spec, max_tokens=120)
    recheck = _pretrain_and_generate(tmp_path / "recheck", replace(BASE_KNOBS, recheck_rate=1.0), spec, max_tokens=120)
    assert _share(base, lambda text: "Recheck" in text) == 0.0  # never seen in pretraining
    assert _share(recheck, lambda text: "Recheck" in text) >= 0.3, recheck[:5]
