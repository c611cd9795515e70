"""Worker for test_distributed: the multi-process properties, checked in each of the torchrun processes.

Writes ``rank{R}.safetensors`` (every rank's weights of each scenario, prefixed) and ``rank{R}.json``:

* ``noise/``: the first noise batch G drew in training (must differ between ranks);
* ``reuse_{loss}/``: G, D and EMA after 3 steps with ``reuse_fakes`` and ``grad_accum=2`` (must be equal
  on every rank);
* ``full/`` and ``resumed/``: an uninterrupted 8-step run and a 5-step run resumed to 8 (must be equal).
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

import multigan
from multigan.toy import RingDataset, RingDiscriminator, RingGenerator, first_item

out = Path(sys.argv[1])


class RecordingGenerator(RingGenerator):
    """Keeps the first noise batch it was asked for."""

    first_noise = None

    def sample_noise(self, batch, device="cpu", generator=None):
        noise = super().sample_noise(batch, device, generator)
        if RecordingGenerator.first_noise is None:
            RecordingGenerator.first_noise = noise.clone()
        return noise


def trainer(run_dir: Path, max_steps: int, **train) -> multigan.Trainer:
    """device=auto, as most presets: without CUDA it must still form the gloo process group."""
    torch.manual_seed(0)  # the recipes' way: one seed on every rank
    cfg = multigan.TrainConfig(**{"max_steps": max_steps, "batch_size": 8, "grad_accum": 2, "loss": "rpgan",
                                  "r1_gamma": 1.0, "ema_decay": 0.9, "device": "auto", "cpu_threads": 1,
                                  "progress": False, "val_every": 0, "ckpt_every": 5, **train})
    return multigan.Trainer(RecordingGenerator(4, 16, 2), RingDiscriminator(16, 2), cfg, RingDataset(256),
                            run_dir, collate_fn=first_item)


def weights(t: multigan.Trainer, prefix: str) -> dict:
    flat = {f"{prefix}/G.{k}": v for k, v in t.G.state_dict().items()}
    flat |= {f"{prefix}/D.{k}": v for k, v in t.D.state_dict().items()}
    flat |= {f"{prefix}/E.{k}": v for k, v in t.ema.module.state_dict().items()}
    return flat


saved: dict = {}
t = trainer(out / "noise", 1)
t.fit()
saved["noise/first"] = RecordingGenerator.first_noise
for loss, extra in (("ns", {"r2_gamma": 1.0}), ("hinge", {"gp_weight": 1.0, "r1_gamma": 0.0}), ("rpgan", {})):
    t = trainer(out / f"reuse_{loss}", 3, loss=loss, reuse_fakes=True, **extra)
    t.fit()
    saved |= weights(t, f"reuse_{loss}")
full = trainer(out / "full", 8)
full.fit()
saved |= weights(full, "full")
trainer(out / "split", 5).fit()
torch.manual_seed(999)  # a restarted process starts elsewhere: resume must restore every rank's streams
resumed = trainer(out / "split", 8)
resumed.fit(resume=True)
saved |= weights(resumed, "resumed")
rank = resumed.rt.rank
save_file({k: v.contiguous() for k, v in saved.items()}, str(out / f"rank{rank}.safetensors"))
(out / f"rank{rank}.json").write_text(json.dumps({"world_size": resumed.rt.world_size,
                                                   "data": resumed.source.state_dict(), "step": resumed.step}))
