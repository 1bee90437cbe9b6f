"""``oneshot-rlvr`` under ``accelerate launch`` with FSDP on CPU processes, for tests/test_sharded.py.

accelerate 1.16 turns FSDP on only for GPU-like devices (``AcceleratorState``: the FSDP plugin is kept only
when the distributed type is MULTI_GPU, MULTI_XPU, ...); on a CPU it silently runs the launch as DDP
(MULTI_CPU). torch's FSDP2 itself shards on CPU processes joined by gloo, so this lifts only that gate:
the state becomes FSDP with the launch's own plugin, and everything else (accelerate's preparation,
TRL, the train stage) runs unchanged. Each process records what it trained
(``ONESHOT_RLVR_ENGINE_RECORD``.RANK: the distributed type and whether the parameters are sharded
DTensors), so the test can tell that FSDP really ran.

    accelerate launch --config_file recipes/accelerate/cpu-2proc-fsdp.yaml tests/fsdp_on_cpu.py train ...
"""

import json
import os
import sys

import accelerate.state
from accelerate import Accelerator
from accelerate.utils import DistributedType

_init_state = accelerate.state.AcceleratorState.__init__
_prepare = Accelerator.prepare


def _state_with_fsdp(self, *args, fsdp_plugin=None, **kwargs):
    _init_state(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
    if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
        self.distributed_type = DistributedType.FSDP
        self.fsdp_plugin = fsdp_plugin
        accelerate.state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP


def _recorded_prepare(self, *args, **kwargs):
    import torch
    from torch.distributed.tensor import DTensor

    prepared = _prepare(self, *args, **kwargs)
    path = os.environ.get("ONESHOT_RLVR_ENGINE_RECORD")
    for model in (prepared if isinstance(prepared, (tuple, list)) else (prepared,)):
        if path and isinstance(model, torch.nn.Module):
            record = {"distributed_type": str(self.distributed_type.value),
                      "fsdp_version": getattr(self.state.fsdp_plugin, "fsdp_version", None),
                      "sharded": any(isinstance(p, DTensor) for p in model.parameters())}
            with open(f"{path}.{self.process_index}", "a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")
    return prepared


accelerate.state.AcceleratorState.__init__ = _state_with_fsdp
Accelerator.prepare = _recorded_prepare

if __name__ == "__main__":
    from oneshot_rlvr.cli import main

    sys.exit(main(sys.argv[1:]))
