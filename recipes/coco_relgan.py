"""Text GAN on COCO captions: MLE pretraining, then RelGAN-style (or ScratchGAN-style) adversarial training.

    python recipes/coco_relgan.py --data ../shared/data/coco-captions/image_coco.txt --out runs/coco_relgan
    python recipes/coco_relgan.py --preset gpu --data TRAIN.txt --test TEST.txt --out runs/coco_relgan_gpu
    python recipes/coco_relgan.py --preset transformer --data TRAIN.txt --out runs/coco_gpt2
    python recipes/coco_relgan.py --preset scratchgan-cpu-small --out runs/coco_scratch  # REINFORCE, LSTM D

The stages (tokenizer, MLE pretraining, adversarial training, MLE at matched compute, the quality-diversity
frontier, ``metrics.json``) and the selection score are those of :mod:`multigan.text.pipeline`; this recipe
holds the COCO presets. ``--test`` gives BLEU references (default: the validation part of ``--data``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from multigan.recipe import RunArgs, run_recipe
from multigan.text.pipeline import RECIPE_WIRING, DataConfig, TextGANConfig, train_text_gan

#: The captions in this repository's layout (``--data`` for another file).
DEFAULT_DATA = "../shared/data/coco-captions/image_coco.txt"


@dataclass
class CocoRelGANConfig(TextGANConfig):
    """Everything the recipe reads: the pipeline's config, on the COCO captions by default."""

    data: DataConfig = field(default_factory=lambda: DataConfig(path=DEFAULT_DATA))


_ADV = {"loss": "rpgan", "batch_size": 64, "n_critic": 5, "g_lr": 1e-4, "d_lr": 1e-4, "betas": [0.9, 0.999],
        "ema_decay": 0.0, "early_stop_metric": "score", "early_stop_mode": "max"}

PRESETS = {
    # a small relational memory and a narrow CNN D, one thread (OpenMP threads spin on a shared machine);
    # early stopping after 3 validations without a better score
    "cpu": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 64}},
        "discriminator": {"arch": "cnn", "cnn": {"embed_dim": 64, "num_rep": 64, "num_filters": [64, 64, 64, 64]}},
        "mle": {"epochs": 10, "batch_size": 64, "lr": 1e-2, "patience": 3, "matched_compute": "cpu"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 1000, "frontier_samples": 2000},
        "train": {**_ADV, "max_steps": 400, "n_critic": 3, "g_lr": 1e-4, "d_lr": 1e-4, "val_every": 50,
                  "ckpt_every": 50, "patience": 3, "log_every": 10, "device": "cpu", "cpu_threads": 1},
    },
    # the cpu preset cut to fit several training seeds into an hour of one core: 5 MLE epochs, 80 adversarial
    # steps, 500 validation samples, no frontier at the end (benchmarks/text_seeds.py scores the runs together)
    "cpu-small": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 64}},
        "discriminator": {"arch": "cnn", "cnn": {"embed_dim": 64, "num_rep": 64, "num_filters": [64, 64, 64, 64]}},
        "mle": {"epochs": 5, "batch_size": 64, "lr": 1e-2, "patience": 2, "matched_compute": "cpu"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 500, "frontier_samples": 0},
        "train": {**_ADV, "max_steps": 80, "n_critic": 3, "g_lr": 1e-4, "d_lr": 1e-4, "val_every": 20,
                  "ckpt_every": 20, "patience": 2, "log_every": 10, "device": "cpu", "cpu_threads": 1},
    },
    # ScratchGAN-style at cpu-small's budget: LSTM G, per-token LSTM D, REINFORCE (gamma 0.23, baseline decay
    # 0.08, D L2 1e-7); unlike ScratchGAN it starts from MLE pretraining (5 epochs, as cpu-small), so its
    # frontier is comparable with cpu-small's and the MLE generator it started from is its own baseline
    "scratchgan-cpu-small": {
        "generator": {"arch": "lstm", "lstm": {"embed_dim": 32, "hidden_dim": 64}},
        "discriminator": {"arch": "lstm", "lstm": {"embed_dim": 32, "hidden_dim": 64, "dropout": 0.1}},
        "objective": {"kind": "reinforce", "gamma": 0.23, "baseline_decay": 0.08, "d_l2": 1e-7},
        "mle": {"epochs": 5, "batch_size": 64, "lr": 1e-2, "patience": 2, "matched_compute": "cpu"},
        "eval": {"samples": 500, "frontier_samples": 0},
        "train": {"loss": "ns", "n_critic": 1, "betas": [0.5, 0.999], "ema_decay": 0.0, "batch_size": 64,
                  "g_lr": 1e-4, "d_lr": 1e-3, "max_steps": 80, "val_every": 20, "ckpt_every": 20, "patience": 2,
                  "early_stop_metric": "score", "early_stop_mode": "max", "log_every": 10, "device": "cpu",
                  "cpu_threads": 1},
    },
    # the published RelGAN COCO setup
    "gpu": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 256}},
        "discriminator": {"arch": "cnn",
                          "cnn": {"embed_dim": 64, "num_rep": 64, "num_filters": [300, 300, 300, 300]}},
        "mle": {"epochs": 150, "batch_size": 64, "lr": 1e-2, "select": "last"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 2000},
        "train": {**_ADV, "max_steps": 3000, "val_every": 100, "ckpt_every": 500, "patience": 10,
                  "log_every": 50, "device": "auto"},
    },
    # GPT-2 generator (soft tokens through inputs_embeds) against a BERT-style encoder
    "transformer": {
        "generator": {"arch": "gpt2", "gpt2": {"n_embd": 256, "n_layer": 4, "n_head": 4, "dropout": 0.1}},
        "discriminator": {"arch": "bert", "bert": {"hidden_size": 256, "num_layers": 3, "num_heads": 4,
                                                   "intermediate_size": 512, "dropout": 0.1}},
        "mle": {"epochs": 40, "batch_size": 64, "lr": 5e-4, "grad_clip": 1.0, "patience": 5},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 2000},
        "train": {**_ADV, "max_steps": 3000, "val_every": 100, "ckpt_every": 500, "patience": 10,
                  "log_every": 50, "device": "auto"},
    },
}


def train(cfg: CocoRelGANConfig, run: RunArgs) -> dict:
    """The text pipeline on this recipe's config (the export's metadata names the recipe)."""
    return train_text_gan(cfg, run, recipe="coco_relgan")


def main(argv=None) -> dict:
    """Entry point (also used by tests and benchmarks)."""
    return run_recipe(CocoRelGANConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/coco_relgan", argv=argv, **RECIPE_WIRING)


if __name__ == "__main__":
    main()
