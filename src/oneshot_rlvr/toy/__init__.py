"""The toy world of the demo: task families with exact answers (``tasks``), a pretraining corpus with knobs
and the held-out / pool problem sets (``corpus``), and a tiny pretrained base model (``model``)."""
