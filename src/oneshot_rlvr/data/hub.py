"""Datasets from the Hugging Face Hub, shared by the benchmarks and the training pools.

``load_hub_dataset`` loads one split through ``datasets``, which caches it (``HF_DATASETS_CACHE``), so a
second run reads the cache. ``hub_or_cache`` wraps such loads: when the Hub gives no answer (one HEAD
request), they read the HF cache only, as with ``HF_HUB_OFFLINE=1`` (``models.offline_when_hub_unreachable``),
and a dataset missing there is one error line at once that says so, not ~25 s of retry warnings.
"""

from __future__ import annotations

import contextlib


def load_hub_dataset(dataset_id: str, config: str | None, split: str, error: type[ValueError], fix: str):
    """Split ``split`` of the Hub dataset ``dataset_id`` (``config``: its subset, or None) as a
    ``datasets.Dataset``; a missing ``datasets`` or a failed load raises ``error`` (one line ending in ``fix``)."""
    try:
        import datasets
    except ImportError as exc:
        raise error(f"loading {dataset_id} from the Hugging Face Hub needs `datasets` (pip install datasets)") from exc
    try:
        return datasets.load_dataset(dataset_id, config, split=split)
    except Exception as exc:  # noqa: BLE001  network, auth, missing split: one clear line
        why = (str(exc).strip() or "no message").splitlines()[0][:200]
        raise error(f"could not load the Hub dataset {dataset_id} (split {split!r}): {type(exc).__name__}: {why}; "
                    f"{fix}") from exc


@contextlib.contextmanager
def hub_or_cache(error: type[ValueError]):
    """Inside, Hub loads read the HF cache only when the Hub gives no answer; an ``error`` raised inside then
    says that only the cache was tried (still one line)."""
    from ..models import offline_when_hub_unreachable

    with offline_when_hub_unreachable() as unreachable:
        try:
            yield
        except error as exc:
            if unreachable:
                raise error(f"the Hugging Face Hub cannot be reached ({unreachable}), so only the HF cache was "
                            f"tried: {exc}") from None
            raise
