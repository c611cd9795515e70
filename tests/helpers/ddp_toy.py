"""Worker for test_distributed: trains the toy GAN in each process and saves that process's weights."""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

import multigan
from multigan.toy import RingDataset, RingDiscriminator, RingGenerator, first_item

out = Path(sys.argv[1])
torch.manual_seed(0)  # identical init on every rank is not required (DDP broadcasts rank 0's weights)
cfg = multigan.TrainConfig(max_steps=6, batch_size=8, grad_accum=2, loss="rpgan", r1_gamma=1.0, ema_decay=0.9,
                           device="cpu", cpu_threads=1, progress=False, val_every=0, ckpt_every=3)
trainer = multigan.Trainer(RingGenerator(4, 16, 2), RingDiscriminator(16, 2), cfg, RingDataset(256),
                           out / "run", collate_fn=first_item)
trainer.fit()
rank = trainer.rt.rank
weights = {f"G.{k}": v for k, v in trainer.G.state_dict().items()}
weights |= {f"D.{k}": v for k, v in trainer.D.state_dict().items()}
weights |= {f"E.{k}": v for k, v in trainer.ema.module.state_dict().items()}
save_file({k: v.contiguous() for k, v in weights.items()}, str(out / f"rank{rank}.safetensors"))
(out / f"rank{rank}.json").write_text(json.dumps({"world_size": trainer.rt.world_size,
                                                   "data": trainer.source.state_dict()}))
