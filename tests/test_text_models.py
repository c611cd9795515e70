"""Text heads: one-hot embedding equals the id lookup, fast conv max-pool equals conv2d, the relational
memory and the highway layer as published, Gumbel-softmax roll-outs, gradients into the generator (RelGAN D
and a transformers D), temperature schedule."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from multigan.text.embedding import TokenEmbedding, embed_tokens
from multigan.text.generator import gumbel_like, inverse_temperature
from multigan.text.lstm import LSTMGenerator
from multigan.text.relgan import Highway, RelationalMemory, RelGANDiscriminator, RelGANGenerator, conv_max_over_time

V, L = 23, 9
KW = {"vocab_size": V, "seq_len": L, "bos_id": 1, "eos_id": 2, "pad_id": 0}


def real_ids(batch: int = 4, seed: int = 0) -> torch.Tensor:
    """Real-looking rows: words (ids >= 3), one <eos>, then <pad>."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(batch, L, dtype=torch.long)
    for i in range(batch):
        n = int(torch.randint(2, L - 1, (1,), generator=g))
        ids[i, :n] = torch.randint(3, V, (n,), generator=g)
        ids[i, n] = 2
    return ids


def test_one_hot_embedding_equals_lookup():
    torch.manual_seed(0)
    emb = TokenEmbedding(V, 6)
    ids = real_ids()
    assert torch.allclose(emb(F.one_hot(ids, V).float()), emb(ids), atol=1e-6)
    assert torch.equal(embed_tokens(ids, emb.weight), emb.weight[ids])
    with pytest.raises(ValueError, match="classes"):
        emb(torch.zeros(2, L, V + 1))
    d = RelGANDiscriminator(V, L, embed_dim=8, num_rep=4, num_filters=(5, 5, 5, 5)).eval()
    assert torch.allclose(d(F.one_hot(ids, V).float()), d(ids), atol=1e-5)


@pytest.mark.parametrize("rep_dim", [1, 3])
def test_conv_max_over_time_matches_conv2d_and_its_gradients(rep_dim):
    torch.manual_seed(1)
    reps, filters, width = 4, 5, 3
    table = torch.randn(V, reps * rep_dim, requires_grad=True)
    soft = torch.softmax(3 * torch.randn(3, L, V), -1)
    # soft inputs (no ties) and real ids (identical <pad> windows tie: the matrix gradients still agree)
    for inputs in (soft, real_ids(3)):
        w = torch.randn(filters, 1, width, rep_dim, requires_grad=True)
        b = torch.randn(filters, requires_grad=True)
        ref = F.conv2d(embed_tokens(inputs, table)[:, None], w, b, stride=(1, rep_dim)).amax(2).transpose(1, 2)
        emb = embed_tokens(inputs, table).view(3, L, reps, rep_dim)
        out = conv_max_over_time(emb, w, b, chunk_elements=50)
        assert torch.allclose(out, ref, atol=1e-5)
        grad = torch.randn_like(ref)
        for a, c in zip(torch.autograd.grad(ref, (table, w, b), grad), torch.autograd.grad(out, (table, w, b), grad)):
            assert torch.allclose(a, c, atol=1e-4)


def test_relational_memory_shapes():
    torch.manual_seed(0)
    mem = RelationalMemory(input_size=6, mem_slots=3, num_heads=2, head_size=5, key_size=4)
    state = mem.initial_state(4, torch.device("cpu"))
    assert state.shape == (4, 3, 10) and torch.equal(state[1], torch.eye(3, 10))
    projected, gates = mem.project_inputs(torch.randn(4, 6))
    assert projected.shape == (4, 10) and gates.shape == (4, 20)
    out, new = mem.step(projected, gates, state)
    assert out.shape == (4, 30) and new.shape == (4, 3, 10) and torch.equal(out, new.flatten(1))
    assert mem.qkv.weight.shape == (2 * (4 + 4 + 5), 10)  # per head: query and key of key_size, value of head_size
    assert RelationalMemory(6, head_size=5).key_size == 5  # the published default: key_size = head_size
    g = RelGANGenerator(**KW, embed_dim=8, mem_slots=2, num_heads=2, head_size=4)
    assert g.teacher_hidden(real_ids(3)).shape == (3, L, 16)


def test_relational_memory_attention_and_mlp_as_published():
    torch.manual_seed(0)
    mem = RelationalMemory(6, mem_slots=2, num_heads=2, head_size=5, key_size=3)
    assert mem.qkv.bias is None and mem.input_gate.bias is None and mem.memory_gate.bias is None
    with torch.no_grad():  # a non-trivial layer-norm gain and shift
        mem.qkv_norm.weight.normal_()
        mem.qkv_norm.bias.normal_()
    rows = torch.randn(4, 3, 10)
    # by hand: the bias-free projection, layer-normalised row by row, split per head into q(3) k(3) v(5),
    # queries scaled by key_size ** -0.5
    x = rows @ mem.qkv.weight.T
    x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)
    x = x * mem.qkv_norm.weight + mem.qkv_norm.bias
    heads = []
    for h in range(2):
        q, k, v = x[..., 11 * h:11 * h + 3], x[..., 11 * h + 3:11 * h + 6], x[..., 11 * h + 6:11 * (h + 1)]
        heads.append(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(3), -1) @ v)
    assert torch.allclose(mem.attention(rows), torch.cat(heads, -1), atol=1e-5)
    # the attention MLP: ReLU between the layers, none after the last
    h = torch.randn(200, 10)
    assert torch.allclose(mem.mlp_block(h), mem.mlp[1](F.relu(mem.mlp[0](h))), atol=1e-6)
    assert (mem.mlp_block(h) < 0).any()
    # both residual blocks end in a layer norm: every memory row has zero mean and unit variance (gain 1, shift 0)
    attended = mem._attend(rows)
    assert torch.allclose(attended.mean(-1), torch.zeros(4, 3), atol=1e-5)
    assert torch.allclose(attended.var(-1, unbiased=False), torch.ones(4, 3), atol=1e-3)


def test_highway_has_separate_gate_and_transform():
    torch.manual_seed(0)
    hw, x = Highway(6), torch.randn(3, 6)
    assert not torch.equal(hw.gate.weight, hw.transform.weight)
    with torch.no_grad():
        hw.gate.weight.zero_()
        hw.gate.bias.fill_(-50.0)
    assert torch.allclose(hw(x), x)  # a closed gate carries the input
    with torch.no_grad():
        hw.gate.bias.fill_(50.0)
    assert torch.allclose(hw(x), F.relu(hw.transform(x)))  # an open gate passes the transform
    with torch.no_grad():
        hw.gate.bias.zero_()
    assert torch.allclose(hw(x), 0.5 * F.relu(hw.transform(x)) + 0.5 * x)


def test_rollout_layout_and_sampling():
    torch.manual_seed(0)
    g = RelGANGenerator(**KW, embed_dim=8, head_size=8)
    soft = g(g.sample_noise(16))
    assert soft.shape == (16, L, V)
    assert torch.allclose(soft.sum(-1), torch.ones(16, L), atol=1e-5)
    assert soft[..., [0, 1]][soft.argmax(-1) != 0].abs().max() < 1e-6  # <pad>, <bos> never sampled
    ids = soft.argmax(-1)
    for row, srow in zip(ids, soft):
        ends = (row == 2).nonzero()
        if len(ends):  # after <eos>: exact <pad> one-hots
            after = srow[int(ends[0]) + 1:]
            assert torch.equal(after, F.one_hot(torch.zeros(len(after), dtype=torch.long), V).float())
    a, b = g.sample_ids(8, seed=5), g.sample_ids(8, seed=5)
    assert torch.equal(a, b) and not torch.equal(a, g.sample_ids(8, seed=6))
    # Gumbel-max sampling follows softmax(logits / T): a sharper temperature repeats the mode more often
    u = gumbel_like(torch.zeros(200_000), torch.Generator().manual_seed(0))
    assert abs(float(u.mean()) - 0.5772) < 0.01 and abs(float(u.var()) - math.pi ** 2 / 6) < 0.03


def test_higher_inverse_temperature_gives_sharper_soft_one_hots():
    torch.manual_seed(0)
    g = LSTMGenerator(**KW, embed_dim=8, hidden_dim=8)
    torch.manual_seed(1)
    low = g(g.sample_noise(32)).max(-1).values.mean()
    g.set_inverse_temperature(100.0)
    torch.manual_seed(1)
    high = g(g.sample_noise(32)).max(-1).values.mean()
    assert high > low + 0.2 and high > 0.95
    assert float(g.state_dict()["inv_temperature"]) == 100.0  # saved with the model: resumable


def test_inverse_temperature_schedules():
    assert inverse_temperature(0, 100, 100.0, "exp") == 1.0
    assert inverse_temperature(50, 100, 100.0, "exp") == pytest.approx(10.0)
    assert inverse_temperature(100, 100, 100.0, "exp") == pytest.approx(100.0)
    assert inverse_temperature(50, 100, 101.0, "linear") == pytest.approx(51.0)
    assert inverse_temperature(500, 100, 100.0, "linear") == pytest.approx(100.0)
    assert inverse_temperature(3, 100, 7.0, "constant") == 7.0
    with pytest.raises(ValueError):
        inverse_temperature(0, 10, 0.5)


def _assert_all_grads(module: torch.nn.Module) -> None:
    missing = [n for n, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reached {missing}"


@pytest.mark.parametrize("gen_cls, kwargs", [
    (RelGANGenerator, {"embed_dim": 8, "head_size": 8, "z_dim": 3}),
    (LSTMGenerator, {"embed_dim": 8, "hidden_dim": 8, "z_dim": 3}),
])
def test_gradients_reach_the_generator_through_gumbel_softmax(gen_cls, kwargs):
    torch.manual_seed(0)
    g = gen_cls(**KW, **kwargs)
    d = RelGANDiscriminator(V, L, embed_dim=8, num_rep=4, num_filters=(4, 4, 4, 4))
    for p in d.parameters():
        p.requires_grad_(False)
    fake = g(g.sample_noise(16))
    F.softplus(-(d(fake) - d(real_ids(16)))).mean().backward()
    _assert_all_grads(g)


def test_mle_loss_ignores_padding_and_learns():
    torch.manual_seed(0)
    g = RelGANGenerator(**KW, embed_dim=8, head_size=8)
    ids = real_ids(8)
    nll = g.token_nll(ids)
    assert nll.shape == ids.shape and torch.all(nll[ids == 0] == 0) and torch.all(nll[ids != 0] > 0)
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    first = float(g.mle_loss(ids).detach())
    assert first == pytest.approx(float(nll.detach().sum() / (ids != 0).sum()))
    for _ in range(60):
        opt.zero_grad()
        g.mle_loss(ids).backward()
        opt.step()
    assert float(g.mle_loss(ids).detach()) < 0.5 * first


def test_mle_term_is_the_teacher_forcing_loss_of_the_real_batch():
    from multigan.text.mle import mle_term

    torch.manual_seed(0)
    g = RelGANGenerator(**KW, embed_dim=8, head_size=8)
    ids = real_ids(5)
    fn = mle_term(g)
    expected = g.mle_loss(ids)
    assert torch.allclose(fn(None, {"real": ids}), expected)
    assert torch.allclose(fn(None, {"real": F.one_hot(ids, V).float()}), expected)  # onehot_collate batches
    fn(None, {"real": ids}).backward()
    assert g.output_layer.weight.grad.abs().sum() > 0


def test_transformers_heads():
    pytest.importorskip("transformers")
    from multigan.text.hf import BertDiscriminator, GPT2Generator

    torch.manual_seed(0)
    g = GPT2Generator(**KW, n_embd=16, n_layer=1, n_head=2, dropout=0.0)
    d = BertDiscriminator(V, L, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, dropout=0.0)
    ids = real_ids(6)
    assert torch.allclose(d(F.one_hot(ids, V).float()), d(ids), atol=1e-5)  # inputs_embeds path == ids
    # the cached soft roll-out computes what one teacher-forced pass computes on the same (hard) tokens
    g.eval()
    hard = g.sample_ids(4, seed=0)
    tf = g.teacher_hidden(hard)
    state = g.initial_state(g.sample_noise(4))
    prev = torch.full((4,), 1)
    for t in range(3):
        h, state = g.step(prev, None if t == 0 else F.one_hot(hard[:, t - 1], V).float(), state)
        assert torch.allclose(h, tf[:, t], atol=1e-5)
        prev = hard[:, t]
    g.train()
    for p in d.parameters():
        p.requires_grad_(False)
    fake = g(g.sample_noise(6))
    F.softplus(-(d(fake) - d(ids))).mean().backward()
    _assert_all_grads(g)
    loss = g.mle_loss(ids)
    assert math.isfinite(float(loss.detach())) and float(loss.detach()) > 0


def test_gpt2_generator_from_a_local_directory(tmp_path):
    pytest.importorskip("transformers")
    from multigan.errors import MultiganError
    from multigan.text.hf import GPT2Generator

    torch.manual_seed(0)
    src = GPT2Generator(**KW, n_embd=16, n_layer=1, n_head=2)
    src.lm.save_pretrained(tmp_path / "gpt2")  # what a user would keep on disk (no hub)
    g = GPT2Generator.from_local_dir(tmp_path / "gpt2", **KW)
    assert g.lm.config.n_embd == 16 and g.config["gpt2_config"]["n_layer"] == 1
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), g.state_dict().values()))
    rebuilt = GPT2Generator(**g.export_config())  # what multigan.load does: the config alone rebuilds it
    assert rebuilt.lm.config.n_embd == 16
    with pytest.raises(MultiganError, match="vocabulary"):
        GPT2Generator.from_local_dir(tmp_path / "gpt2", **{**KW, "vocab_size": V + 1})
    with pytest.raises(MultiganError, match="config.json"):
        GPT2Generator.from_local_dir(tmp_path, **KW)
