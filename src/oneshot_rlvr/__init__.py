"""oneshot-rlvr: RLVR on one (or a few) training examples, after Wang et al. (arXiv 2504.20571).

Stages: select → train → evaluate → report; shared pieces: grading, data, models, tasks.
"""

__version__ = "0.1.0"
