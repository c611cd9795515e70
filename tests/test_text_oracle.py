"""The synthetic-oracle task at tiny sizes: the oracle is its seed, it scores with the weights that generated
the data (never re-seeded or rebuilt differently in between), its own sentences score below uniform random
tokens, fixed-length generators, and the recipe end to end for RelGAN and ScratchGAN-style runs."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import multigan
from multigan.config import ConfigError
from multigan.distributed import Runtime
from multigan.errors import MultiganError
from multigan.text.architectures import GeneratorConfig, build_sized_generator
from multigan.text.lstm import LSTMGenerator
from multigan.text.oracle import OFFSET, LSTMOracle, OracleSpec, OracleTask
from multigan.text.pipeline.oracle_run import OracleConfig, OracleGANConfig, prepare_task
from multigan.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SPEC = OracleSpec(vocab_size=40, seq_len=8, embed_dim=8, hidden_dim=8, seed=3)
TINY = ["oracle.vocab_size=40", "oracle.seq_len=8", "oracle.embed_dim=8", "oracle.hidden_dim=8",
        "oracle.n_train=256", "oracle.n_val=64", "oracle.n_test=64", "eval.samples=64", "eval.final_samples=128",
        "eval.temperatures=[0.9,1.0]", "train.batch_size=32", "train.val_every=2", "train.ckpt_every=2",
        "train.log_every=1", "train.cpu_threads=1"]


def _recipe():
    if "oracle_relgan_recipe" in sys.modules:
        return sys.modules["oracle_relgan_recipe"]
    spec = importlib.util.spec_from_file_location("oracle_relgan_recipe", ROOT / "recipes" / "oracle_relgan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_oracle_is_its_seed_and_is_frozen(tmp_path):
    a, b, other = LSTMOracle(SPEC), LSTMOracle(SPEC), LSTMOracle(replace(SPEC, seed=4))
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    assert not torch.equal(a.output.weight, other.output.weight)
    assert not any(p.requires_grad for p in a.parameters())
    a.save(tmp_path / "o")
    assert json.loads((tmp_path / "o" / "oracle.json").read_text())["seed"] == 3
    loaded = LSTMOracle.load(tmp_path / "o")
    assert all(torch.equal(v, w) for v, w in zip(a.state_dict().values(), loaded.state_dict().values()))
    from safetensors.torch import load_file, save_file
    state = load_file(str(tmp_path / "o" / "oracle.safetensors"))
    state["output.bias"] = state["output.bias"] + 1.0
    save_file(state, str(tmp_path / "o" / "oracle.safetensors"))
    with pytest.raises(MultiganError, match="not those of its seed"):
        LSTMOracle.load(tmp_path / "o")


def test_own_samples_score_below_uniform_tokens_and_another_oracle():
    task = OracleTask(LSTMOracle(SPEC), n_train=512, n_val=64, n_test=512)
    own = task.nll_oracle(task.test_ids)
    uniform = torch.randint(OFFSET, task.vocab_size, task.test_ids.shape, generator=torch.Generator().manual_seed(0))
    assert own < task.nll_oracle(uniform) - 1.0
    assert own < math.log(SPEC.vocab_size)  # the oracle is peaked (N(0, 1) weights), far from uniform
    reseeded = OracleTask(LSTMOracle(replace(SPEC, seed=4)), 8, 8, 8)
    assert reseeded.nll_oracle(task.test_ids) > own + 1.0  # a re-seeded oracle would not recognise the data
    with pytest.raises(MultiganError, match="special tokens"):
        task.nll_oracle(task.test_ids - OFFSET)


def test_sampling_and_scoring_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    task = OracleTask(LSTMOracle(SPEC), n_train=64, n_val=8, n_test=8)
    task.nll_oracle(task.train_ids)
    assert torch.equal(torch.rand(3), expected)


def test_the_oracle_that_scores_is_the_one_that_generated(tmp_path):
    """prepare_task stores the oracle; a later stage (or --resume) scores with exactly those weights, whatever
    the global RNG did in between, and the data it draws again is the same data."""
    cfg = OracleConfig(vocab_size=40, seq_len=8, embed_dim=8, hidden_dim=8, seed=3, n_train=256, n_val=32, n_test=64)
    runtime = Runtime.create(TrainConfig(device="cpu", cpu_threads=1))
    first = prepare_task(cfg, tmp_path, runtime)
    nll_first = first.nll_oracle(first.train_ids)
    torch.manual_seed(999)  # what training would do to the global RNG
    torch.rand(1000)
    again = prepare_task(cfg, tmp_path, runtime)  # loads oracle/ from the run
    assert torch.equal(again.train_ids, first.train_ids)
    assert again.nll_oracle(first.train_ids) == nll_first
    assert abs(nll_first - first.nll_oracle(first.test_ids)) < 0.3  # the training data is the oracle's language
    fresh = LSTMOracle(OracleSpec(vocab_size=40, seq_len=8, embed_dim=8, hidden_dim=8, seed=4))
    fresh.save(tmp_path / "oracle")  # an oracle of another seed in the run directory is refused
    with pytest.raises(ConfigError, match="not the configured one"):
        prepare_task(cfg, tmp_path, runtime)


def test_fixed_length_generators_never_sample_specials():
    task = OracleTask(LSTMOracle(SPEC), n_train=8, n_val=8, n_test=8)
    g = build_sized_generator(GeneratorConfig(arch="lstm"), **task.generator_kwargs())
    ids = g.sample_ids(64, seed=0)
    assert ids.shape == (64, SPEC.seq_len) and int(ids.min()) >= OFFSET
    assert g.export_config()["fixed_length"] is True
    assert (g.token_nll(ids) > 0).all()  # every position counts
    plain = LSTMGenerator(vocab_size=40, seq_len=8)
    assert "fixed_length" not in plain.export_config()  # other exports keep their config as it was


def test_reinforce_needs_a_per_token_discriminator():
    cfg = OracleGANConfig()
    cfg.objective.kind = "reinforce"
    with pytest.raises(ConfigError, match="per-token discriminator"):
        cfg.validate()


@pytest.mark.parametrize("preset,extra,names", [
    ("cpu", ["mle.epochs=2", "mle.batch_size=32", "generator.relgan.head_size=8", "generator.relgan.embed_dim=8",
             "discriminator.cnn.embed_dim=8", "discriminator.cnn.num_rep=4", "discriminator.cnn.num_filters=[4,4,4,4]",
             "train.n_critic=1"], {"gan", "mle", "mle_matched"}),
    ("scratchgan-cpu", ["generator.lstm.hidden_dim=8", "generator.lstm.embed_dim=8", "discriminator.lstm.hidden_dim=8",
                        "discriminator.lstm.embed_dim=8", "train.batch_size=16"], {"gan"}),
])
def test_recipe_end_to_end(tmp_path, preset, extra, names):
    out = tmp_path / preset
    summary = _recipe().main(["--preset", preset, "--out", str(out), "--max-steps", "4", *TINY, *extra])
    report = json.loads((out / "oracle_report.json").read_text())
    assert set(report["points"]) == names == set(summary["points"])
    assert [p["temperature"] for p in report["points"]["gan"]] == [0.9, 1.0]
    for points in report["points"].values():
        for p in points:
            assert p["nll_oracle"] > report["task"]["nll_oracle_real"] - 0.5 and p["nll_gen"] > 0
    assert json.loads((out / "oracle" / "oracle.json").read_text())["seed"] == 0
    g = multigan.load(out)
    assert int(g.sample_ids(16, seed=0).min()) >= OFFSET
    rows = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and all("nll_oracle" in r for r in rows)


def _rows(label, is_mle, points, run="r"):
    """Records as evaluate_runs gives them: ``points`` = [(T, nll_gen, [nll_oracle per seed])]."""
    return [{"run": run, "label": label, "is_mle": is_mle, "temperature": t, "seed": s, "nll_oracle": o,
             "nll_gen": g} for t, g, seeds in points for s, o in enumerate(seeds)]


def test_the_verdict_needs_a_gap_beyond_the_seed_spread():
    from multigan.text.oracle_eval import aggregate, verdict, verdict_lines

    mle = _rows("MLE", True, [(0.8, 7.0, [6.0, 6.1]), (1.0, 6.5, [7.0, 7.1]), (1.2, 6.8, [8.0, 8.1])])
    clear = _rows("GAN", False, [(1.0, 6.75, [6.2, 6.25])])  # front at 6.75: 6.55 -> gap 0.325 > spread 0.1
    close = _rows("GAN2", False, [(1.0, 6.75, [6.5, 6.54])])  # gap 0.03 < spread
    rows = verdict(aggregate(mle + clear + close))
    by = {r["gan"]: r for r in rows}
    assert by["GAN"]["gap"] == pytest.approx(6.55 - 6.225) and by["GAN"]["beyond_spread"]
    assert 0 < by["GAN2"]["gap"] < by["GAN2"]["spread"] and not by["GAN2"]["beyond_spread"]
    text = verdict_lines(rows)
    assert "=> GAN lies above the MLE frontier by more than the seed spread at T = 1" in text
    assert "=> GAN2 lies above the MLE frontier by more than the seed spread nowhere" in text
    # the MLE point at T = 1.2 is beaten on both axes by T = 1.0's: not on the frontier, whose NLL_gen ends at 7.0
    outside = verdict(aggregate(mle + _rows("GAN3", False, [(1.0, 7.2, [6.0, 6.0])])))
    assert outside[0]["gap"] is None and "above" in outside[0]["note"]


def test_eval_oracle_pools_runs_and_sampling_seeds(tmp_path, capsys):
    from multigan.cli import main as cli

    runs = []
    for seed in (0, 1):
        out = tmp_path / f"s{seed}"
        _recipe().main(["--preset", "scratchgan-cpu", "--out", str(out), "--max-steps", "2", *TINY,
                        "generator.lstm.hidden_dim=8", "generator.lstm.embed_dim=8", "discriminator.lstm.hidden_dim=8",
                        "discriminator.lstm.embed_dim=8", "train.batch_size=16", "mle.epochs=1", "mle.batch_size=32",
                        f"train.seed={seed}"])
        runs.append(str(out))
    capsys.readouterr()
    assert cli(["eval-oracle", *runs, "-n", "32", "--temperatures", "0.9,1.0", "--seeds", "0,1,2",
                "--out", str(tmp_path / "f.json")]) in (0, None)
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "f.json").read_text())
    assert set(report["aggregate"]) == {"ScratchGAN-style", "MLE (lstm G)"}
    point = report["aggregate"]["ScratchGAN-style"]["points"][0]
    assert point["runs"] == 2 and point["nll_oracle"]["n"] == 6 and point["nll_gen"]["n"] == 2
    assert "=> ScratchGAN-style lies above the MLE (lstm G) frontier by more than the seed spread" in printed


def test_merging_aggregates_equals_aggregating_all_rows():
    """A stored table plus a new training seed: pooled from the stats alone, exactly as from all rows."""
    from multigan.text.oracle_eval import aggregate, merge_aggregates

    def rows(run, label, is_mle, base):
        return [{"run": run, "label": label, "is_mle": is_mle, "temperature": t, "seed": s,
                 "nll_oracle": base + 0.1 * t + 0.01 * s + 0.003 * len(run), "nll_gen": base - t + 0.002 * len(run)}
                for t in (0.9, 1.0) for s in (0, 1, 2)]
    old = rows("r0", "RelGAN", False, 9.0) + rows("r01", "RelGAN", False, 9.0) + rows("r0", "MLE", True, 9.2)
    new = rows("r012", "RelGAN", False, 9.05) + rows("r012", "MLE", True, 9.3)
    merged, direct = merge_aggregates(aggregate(old), aggregate(new)), aggregate(old + new)
    assert set(merged) == set(direct)
    for label in direct:
        for a, b in zip(merged[label]["points"], direct[label]["points"]):
            assert a["runs"] == b["runs"] and a["temperature"] == b["temperature"]
            for key in ("nll_oracle", "nll_gen"):
                assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (label, key)
    assert merged["RelGAN"]["points"][0]["runs"] == 3 and merged["MLE"]["points"][0]["nll_oracle"]["n"] == 6
