"""Text GANs on the synthetic-oracle task (SeqGAN / RelGAN protocol): RelGAN, ScratchGAN-style and MLE.

    python recipes/oracle_relgan.py --out runs/oracle_relgan                              # RelGAN, cpu preset
    python recipes/oracle_relgan.py --preset scratchgan-cpu --out runs/oracle_scratchgan   # ScratchGAN-style
    python recipes/oracle_relgan.py --preset gpu --out runs/oracle_relgan_gpu             # RelGAN(100), paper scale

A random LSTM oracle (vocabulary 5,000, length 20, hidden 32, seed ``oracle.seed``) generates 10,000 training
sentences; every generator is scored by NLL_oracle of its samples and NLL_gen of held-out oracle sentences
(:mod:`multigan.text.pipeline.oracle_run`). The MLE baseline is the run's own pretraining stage (``mle/``) and,
with ``mle.matched_compute``, MLE continued for as long as the adversarial stage ran (``mle_matched/``).
"""
from __future__ import annotations

from multigan.recipe import RunArgs, run_recipe
from multigan.text.pipeline.oracle_run import ORACLE_OUTPUTS, OracleGANConfig, train_oracle_gan

_RELGAN_ADV = {"loss": "rpgan", "n_critic": 5, "g_lr": 1e-4, "d_lr": 1e-4, "betas": [0.9, 0.999],
               "ema_decay": 0.0}
# ScratchGAN (de Masson d'Autume et al. 2019, appendix): Adam betas (0.5, 0.999), D much faster than G,
# per-token logistic D loss, no EMA
_SCRATCH_ADV = {"loss": "ns", "n_critic": 1, "betas": [0.5, 0.999], "ema_decay": 0.0}

PRESETS = {
    # small relational memory and CNN D, one thread; 10-15 CPU-minutes in all
    "cpu": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 64}},
        "discriminator": {"arch": "cnn", "cnn": {"embed_dim": 64, "num_rep": 64, "num_filters": [64, 64, 64, 64]}},
        "mle": {"epochs": 6, "batch_size": 64, "lr": 1e-2, "patience": 3, "matched_compute": "cpu"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 1000, "final_samples": 5000, "temperatures": [0.8, 0.9, 1.0, 1.1]},
        "train": {**_RELGAN_ADV, "batch_size": 64, "n_critic": 3, "max_steps": 100, "val_every": 20,
                  "ckpt_every": 20, "log_every": 10, "device": "cpu", "cpu_threads": 1, "progress": False},
    },
    # RelGAN(100) on the synthetic data as published: memory 1 x 2 x 256, CNN D 300 filters per size,
    # 150 MLE epochs (the last kept), then 3,000 adversarial steps (the paper ran more; see README)
    "gpu": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 256}},
        "discriminator": {"arch": "cnn", "cnn": {"embed_dim": 64, "num_rep": 64,
                                                 "num_filters": [300, 300, 300, 300]}},
        "mle": {"epochs": 150, "batch_size": 64, "lr": 1e-2, "select": "last", "matched_compute": "wall"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 2000, "final_samples": 10000, "temperatures": [0.8, 0.9, 1.0, 1.1, 1.2]},
        "train": {**_RELGAN_ADV, "batch_size": 64, "max_steps": 3000, "val_every": 100, "ckpt_every": 500,
                  "log_every": 50, "device": "auto"},
    },
    # ScratchGAN-style from scratch (no MLE stage): LSTM G (the oracle's size) and per-token LSTM D,
    # REINFORCE, batch 2 x 128 by accumulation
    "scratchgan-cpu": {
        "generator": {"arch": "lstm", "lstm": {"embed_dim": 32, "hidden_dim": 32}},
        "discriminator": {"arch": "lstm", "lstm": {"embed_dim": 32, "hidden_dim": 64, "dropout": 0.1}},
        "objective": {"kind": "reinforce", "gamma": 0.23, "baseline_decay": 0.08, "d_l2": 1e-7},
        "mle": {"epochs": 0, "matched_compute": "off"},
        "eval": {"samples": 1000, "final_samples": 5000, "temperatures": [0.8, 0.9, 1.0, 1.1]},
        "train": {**_SCRATCH_ADV, "batch_size": 128, "grad_accum": 2, "g_lr": 1e-3, "d_lr": 1e-3,
                  "max_steps": 250, "val_every": 25, "ckpt_every": 50, "log_every": 25, "device": "cpu",
                  "cpu_threads": 1, "progress": False},
    },
    # ScratchGAN's published sizes and rates (EMNLP News: LSTM 512 x 2 G, LSTM 512 D, batch 512,
    # G lr 9.59e-5, D lr 9.38e-3, gamma 0.23, baseline decay 0.08, D L2 1e-7), on the oracle task
    "scratchgan-gpu": {
        "generator": {"arch": "lstm", "lstm": {"embed_dim": 512, "hidden_dim": 512, "num_layers": 2}},
        "discriminator": {"arch": "lstm", "lstm": {"embed_dim": 512, "hidden_dim": 512, "dropout": 0.1}},
        "objective": {"kind": "reinforce", "gamma": 0.23, "baseline_decay": 0.08, "d_l2": 1e-7},
        "mle": {"epochs": 0, "matched_compute": "off"},
        "eval": {"samples": 2000, "final_samples": 10000, "temperatures": [0.8, 0.9, 1.0, 1.1, 1.2]},
        "train": {**_SCRATCH_ADV, "batch_size": 512, "g_lr": 9.59e-5, "d_lr": 9.38e-3, "max_steps": 20000,
                  "val_every": 500, "ckpt_every": 2000, "log_every": 100, "device": "auto"},
    },
}


def train(cfg: OracleGANConfig, run: RunArgs) -> dict:
    """The oracle pipeline on this recipe's config (the export's metadata names the recipe)."""
    return train_oracle_gan(cfg, run, recipe="oracle_relgan")


def main(argv=None) -> dict:
    """Entry point (also used by tests and benchmarks)."""
    return run_recipe(OracleGANConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/oracle_relgan", argv=argv, outputs=ORACLE_OUTPUTS)


if __name__ == "__main__":
    main()
