"""Tests of multigan.data.BatchSource: determinism, resumption, per-batch seeding, sharding."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from multigan.data import BatchSource, DataError
from multigan.toy import RingDataset, first_item


class Indices(Dataset):
    """Item i is the tensor i."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor(i)


class Noisy(Indices):
    """Item i is (i, a draw from torch's, NumPy's and Python's global generators): random augmentation."""

    def __getitem__(self, i: int) -> dict:
        return {"i": torch.tensor(i), "torch": torch.rand(1),
                "np": torch.tensor(np.random.rand()), "py": torch.tensor(random.random())}


def take(source: BatchSource, k: int) -> list:
    return [next(source) for _ in range(k)]


def ids(batches) -> list[list[int]]:
    return [(b["i"] if isinstance(b, dict) else b).tolist() for b in batches]


def same_batches(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, dict):
            if x.keys() != y.keys() or not all(torch.equal(x[k], y[k]) for k in x):
                return False
        elif not torch.equal(x, y):
            return False
    return True


def test_same_seed_same_batches_other_seed_other_batches():
    a = take(BatchSource(Indices(10), 3, seed=5), 9)
    b = take(BatchSource(Indices(10), 3, seed=5), 9)
    c = take(BatchSource(Indices(10), 3, seed=6), 9)
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    assert all(batch.shape == (3,) for batch in a)


def test_epochs_are_permutations_and_differ():
    source = BatchSource(Indices(10), 3, seed=0)
    assert source.batches_per_epoch() == 3  # 10 // 3, the incomplete batch is dropped
    epochs = [sum(ids(take(source, 3)), []) for _ in range(4)]
    for items in epochs:
        assert len(items) == 9 and len(set(items)) == 9 and set(items) <= set(range(10))
    assert len({tuple(e) for e in epochs}) == 4  # every epoch has its own order
    assert source.state_dict() == {"epoch": 3, "position": 3}


def test_no_shuffle_is_sequential():
    source = BatchSource(Indices(7), 2, shuffle=False)
    assert ids(take(source, 4)) == [[0, 1], [2, 3], [4, 5], [0, 1]]


def test_state_dict_counts_consumed_batches():
    source = BatchSource(Indices(10), 3, seed=0)
    assert source.state_dict() == {"epoch": 0, "position": 0}
    take(source, 2)
    assert source.state_dict() == {"epoch": 0, "position": 2}
    take(source, 2)
    assert source.state_dict() == {"epoch": 1, "position": 1}


@pytest.mark.parametrize("consumed", [0, 1, 2, 3, 4, 6, 7])  # 3 batches per epoch: 3 and 6 end an epoch
def test_resume_gives_exactly_the_next_batches(consumed):
    straight = take(BatchSource(Noisy(10), 3, seed=11), consumed + 4)
    first = BatchSource(Noisy(10), 3, seed=11)
    before = take(first, consumed)
    state = first.state_dict()
    resumed = BatchSource(Noisy(10), 3, seed=11)
    resumed.load_state_dict({k: int(v) for k, v in state.items()})
    after = take(resumed, 4)
    assert same_batches(before + after, straight)


def test_load_state_dict_rewinds_a_running_source():
    source = BatchSource(Indices(10), 3, seed=2)
    take(source, 2)
    state = source.state_dict()
    want = take(source, 3)
    source.load_state_dict(state)
    assert ids(take(source, 3)) == ids(want)


def test_item_randomness_is_per_batch_and_reproducible():
    batches = take(BatchSource(Noisy(12), 4, seed=3), 6)
    for key in ("torch", "np", "py"):
        values = torch.cat([b[key].flatten() for b in batches])
        assert len(set(values.tolist())) == len(values), key  # no repeated draws across batches
    again = take(BatchSource(Noisy(12), 4, seed=3), 6)
    assert same_batches(batches, again)


def test_fetching_does_not_touch_the_global_generators():
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    want = (torch.rand(1).item(), np.random.rand(), random.random())
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    source = BatchSource(Noisy(8), 2, seed=1)
    take(source, 3)
    assert (torch.rand(1).item(), np.random.rand(), random.random()) == want
    # and the global state does not leak into the batches
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    assert same_batches(take(BatchSource(Noisy(8), 2, seed=1), 3), take(BatchSource(Noisy(8), 2, seed=1), 3))


def test_workers_give_the_same_batches_as_the_main_process():
    n, bs, k = 8, 2, 5  # crosses an epoch boundary (4 batches per epoch)
    main = take(BatchSource(Noisy(n), bs, seed=4, num_workers=0), k)
    workers = BatchSource(Noisy(n), bs, seed=4, num_workers=2)
    got = take(workers, 3)
    state = workers.state_dict()
    resumed = BatchSource(Noisy(n), bs, seed=4, num_workers=2)
    resumed.load_state_dict(state)
    got += take(resumed, k - 3)
    assert same_batches(got, main)


def test_two_ranks_get_disjoint_items():
    n, bs = 13, 3  # 2 batches per rank per epoch, 1 item dropped
    r0 = BatchSource(Noisy(n), bs, seed=9, rank=0, world_size=2)
    r1 = BatchSource(Noisy(n), bs, seed=9, rank=1, world_size=2)
    assert r0.batches_per_epoch() == r1.batches_per_epoch() == 2
    for _ in range(3):  # three epochs
        a, b = take(r0, 2), take(r1, 2)
        ia, ib = sum(ids(a), []), sum(ids(b), [])
        assert len(set(ia)) == 6 and len(set(ib)) == 6
        assert not set(ia) & set(ib)
        # different ranks draw different augmentation noise
        noise_a = set(torch.cat([x["torch"].flatten() for x in a]).tolist())
        noise_b = set(torch.cat([x["torch"].flatten() for x in b]).tolist())
        assert not noise_a & noise_b
    # the two ranks together take the single-process epoch order, interleaved batch by batch
    single = ids(take(BatchSource(Indices(n), bs, seed=9), 4))
    a = ids(take(BatchSource(Indices(n), bs, seed=9, rank=0, world_size=2), 2))
    b = ids(take(BatchSource(Indices(n), bs, seed=9, rank=1, world_size=2), 2))
    assert [a[0], b[0], a[1], b[1]] == single


def test_dataset_too_small():
    with pytest.raises(DataError, match=r"the dataset has 3 items, fewer than one batch per process "
                                         r"\(batch_size 2 x 2 processes\)"):
        BatchSource(Indices(3), 2, world_size=2)
    with pytest.raises(ValueError, match="lower train.batch_size"):
        BatchSource(Indices(3), 4)
    BatchSource(Indices(4), 2, world_size=2)  # exactly one batch each is enough


def test_pre_batched_dataset_with_getitems():
    data = RingDataset(size=20, seed=0)
    source = BatchSource(data, 5, seed=1, collate_fn=first_item)
    batch = next(source)
    assert batch["real"].shape == (5, 2)
    assert all(any(torch.equal(row, p) for p in data.points) for row in batch["real"])
    batches = take(BatchSource(data, 5, seed=1, collate_fn=first_item), 4)
    rows = torch.cat([b["real"] for b in batches])
    assert torch.equal(rows.sort(0).values, data.points.sort(0).values)  # one epoch = every point once
