"""The toy world's base model: a tokenizer built with ``tokenizers`` and a small Llama pretrained with
transformers' ``Trainer`` on the toy corpus, saved as an ordinary Hugging Face folder and cached by its
settings, so that every later stage (TRL training, the evaluation harness) runs its real-LLM code on it.

Departures from ordinary LM pretraining, for speed on a 2-core CPU: the loss is on the solution tokens
only (the question's numbers are random, so predicting them teaches nothing); documents are packed into
rows of 256 tokens (attention crosses document boundaries, as in most LM pretraining); about a thousand
steps, cosine schedule.

Tokenizer: word-level pieces (``" apples"``, ``" The"``), single digits (``"4"``, and ``" 4"`` where a space
comes before a number: a quarter fewer tokens than a space of its own) and single punctuation marks —
numbers are read digit by digit, as Qwen's and Llama 3's tokenizers do. ``<bos>``
comes from the post-processor (TRL tokenizes prompts with special tokens on), ``<eos>`` ends a document.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .corpus import MAX_HELD_OUT_PER_LEVEL, CorpusKnobs, corpus, held_out_sets, training_pool

MAX_POOL_PER_FAMILY = 20  # pools of up to this size stay out of the corpus

PIECES = r" ?[A-Za-z]+| ?\d| ?[^A-Za-z\d\s]|\s"
SPECIAL = ["<pad>", "<bos>", "<eos>", "<unk>"]


@dataclass(frozen=True)
class ToyModelSpec:
    """The base model's shape and pretraining schedule (a Llama; defaults fit a few minutes of 2-core CPU)."""

    hidden_size: int = 128  # 1.06M parameters
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 512
    steps: int = 1000  # ~0.5 s each on 2 cores; accuracy comes after a jump near step 300 (copying)
    batch_size: int = 24  # rows of ``row_tokens`` packed tokens (~80 documents)
    row_tokens: int = 256
    learning_rate: float = 3e-3
    seed: int = 0


def build_tokenizer(texts: list[str]):
    """A word-level fast tokenizer over ``texts``' pieces, wrapped as ``PreTrainedTokenizerFast``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    splitter = pre_tokenizers.Split(Regex(PIECES), behavior="isolated")
    pieces = sorted({piece for text in texts for piece, _ in splitter.pre_tokenize_str(text)})
    vocab = {token: index for index, token in enumerate(SPECIAL + [p for p in pieces if p not in SPECIAL])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = splitter
    backend.decoder = decoders.Fuse()
    backend.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A $B",
                                                           special_tokens=[("<bos>", vocab["<bos>"])])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>", padding_side="left", model_max_length=512)


def _cache_key(knobs: CorpusKnobs, spec: ToyModelSpec) -> str:
    text = json.dumps({"knobs": asdict(knobs), "spec": asdict(spec), "format": 3}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def toy_cache_dir(knobs: CorpusKnobs, spec: ToyModelSpec) -> Path:
    from ..models import cache_root

    return cache_root() / "toy" / f"base-{_cache_key(knobs, spec)}"


def _encode(tokenizer, documents: list[tuple[str, str]], width: int) -> list[dict]:
    """Documents as one token stream (each ``<bos> prompt solution <eos>``, loss on the solution only),
    cut into rows of ``width`` tokens: packing wastes no compute on padding (the documents' lengths
    range from ~20 to ~260 tokens)."""
    prompts = tokenizer([p for p, _ in documents])["input_ids"]  # with <bos>
    answers = tokenizer([a for _, a in documents], add_special_tokens=False)["input_ids"]
    ids, labels = [], []
    for prompt, answer in zip(prompts, answers):
        ids += prompt + answer + [tokenizer.eos_token_id]
        labels += [-100] * len(prompt) + answer + [tokenizer.eos_token_id]
    return [{"input_ids": ids[start : start + width], "labels": labels[start : start + width]}
            for start in range(0, len(ids) - width + 1, width)]


def _collate(pad_id: int):
    import torch

    def collate(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id)  # (B, T), right padding for training
        labels = torch.full((len(rows), width), -100)  # (B, T)
        mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(row["input_ids"]), torch.tensor(row["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def pretrain(knobs: CorpusKnobs, spec: ToyModelSpec, out_dir: str | os.PathLike, log=print) -> dict:
    """Pretrain a base model into ``out_dir`` (written whole: temp folder, then rename); returns its record
    ``{"parameters", "seconds", "final_loss", "tokens", "knobs", "spec"}`` (also ``toy_base.json`` there)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

    out = Path(out_dir)
    start = time.monotonic()
    held_out = {p.question for problems in held_out_sets(MAX_HELD_OUT_PER_LEVEL).values() for p in problems}
    pool = {p.question for p in training_pool(MAX_POOL_PER_FAMILY)}
    documents = corpus(knobs, exclude=held_out | pool)
    tokenizer = build_tokenizer([p + a for p, a in documents] + sorted(held_out | pool))
    rows = _encode(tokenizer, documents, spec.row_tokens)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
                         num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.heads,
                         max_position_embeddings=512, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    args = TrainingArguments(output_dir=str(partial / "trainer"), max_steps=spec.steps, per_device_train_batch_size=spec.batch_size,
                             learning_rate=spec.learning_rate, lr_scheduler_type="cosine", warmup_steps=spec.steps // 20,
                             weight_decay=0.01, logging_steps=max(1, spec.steps // 20), save_strategy="no", report_to="none",
                             use_cpu=not torch.cuda.is_available(), seed=spec.seed, data_seed=spec.seed,
                             dataloader_drop_last=True, disable_tqdm=True)

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, index):
            return rows[index]

    trainer = Trainer(model=model, args=args, train_dataset=Rows(), data_collator=_collate(tokenizer.pad_token_id))
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # its dict-per-log on stdout; _Progress says the same in one line
    trainer.add_callback(_Progress(log, spec.steps))
    result = trainer.train()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(partial / "trainer", ignore_errors=True)
    record = {"parameters": sum(p.numel() for p in model.parameters()), "seconds": time.monotonic() - start,
              "threads": torch.get_num_threads(),
              "final_loss": result.training_loss, "documents": len(documents), "tokens": sum(len(r["input_ids"]) for r in rows),
              "knobs": asdict(knobs), "spec": asdict(spec)}
    (partial / "toy_base.json").write_text(json.dumps(record, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, out)
    return record


def _Progress(log, total: int):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                log(f"pretraining step {state.global_step}/{total}: loss {logs['loss']:.3f}")

    return Progress()
