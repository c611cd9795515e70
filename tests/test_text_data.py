"""Word tokenizer (round trip, save/load, fixed-length layout) and text files (bad files, empty lines, split)."""
from __future__ import annotations

import logging
import shutil

import pytest
import torch

from multigan.errors import MultiganError
from multigan.text.data import TextDataError, TokenIdsDataset, onehot_collate, read_lines, split_lines
from multigan.text.tokenizer import TokenizerError, WordTokenizer


@pytest.fixture(scope="module")
def captions(data_dir, tmp_path_factory):
    """The first 200 COCO captions, copied into a temporary file."""
    src = data_dir / "coco-captions" / "image_coco.txt"
    if not src.is_file():
        pytest.skip(f"{src} is missing")
    dst = tmp_path_factory.mktemp("coco") / "captions.txt"
    shutil.copy(src, dst)
    lines = dst.read_text().splitlines()[:200]
    dst.write_text("\n".join(lines) + "\n")
    return dst


def test_tokenizer_round_trip_and_layout(captions):
    lines = read_lines(captions)
    tok = WordTokenizer.train(lines)
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    longest = max(len(tok.split(s)) for s in lines)
    assert tok.max_length == longest and tok.seq_len == longest + 1
    ids = tok.encode_batch(lines)
    assert ids.shape == (len(lines), tok.seq_len) and ids.dtype == torch.long
    for line, row in zip(lines, ids.tolist()):
        words = tok.split(line)
        assert tok.tokens(row) == words  # every word of the training text is in the vocabulary
        assert row[len(words)] == tok.eos_id and set(row[len(words) + 1:]) <= {tok.pad_id}
        assert tok.decode(row) == " ".join(words)
    assert tok.split("A Bicycle, parked.") == ["a", "bicycle", ",", "parked", "."]
    assert "<unk>" in tok.decode(tok.encode("a zyzzyva bicycle"))


def test_tokenizer_save_load_and_truncation(captions, tmp_path):
    lines = read_lines(captions)
    tok = WordTokenizer.train(lines, max_length=5)
    path = tok.save(tmp_path)  # a folder: tmp_path/tokenizer.json
    assert path.name == "tokenizer.json"
    back = WordTokenizer.load(tmp_path)
    assert back.describe() == tok.describe() == {"vocab_size": tok.vocab_size, "max_length": 5, "seq_len": 6}
    assert torch.equal(back.encode_batch(lines), tok.encode_batch(lines))
    row = back.encode("a man riding a wave on top of a surfboard")
    assert len(row) == 6 and row[-1] == back.eos_id  # 5 words, then <eos>
    with pytest.raises(TokenizerError, match="does not exist"):
        WordTokenizer.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="bad.json"):
        WordTokenizer.load(tmp_path / "bad.json")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"a cat\x00\x01\x02 on a mat\n", "binary"),
    (b"\xff\xfe\xfa caption\n", "not UTF-8"),
    (b"\n   \n\t\n", "no usable line"),
])
def test_bad_text_files_raise_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(TextDataError, match=message) as info:
        read_lines(path)
    assert str(path) in str(info.value) and isinstance(info.value, MultiganError)
    with pytest.raises(TextDataError, match="does not exist"):
        read_lines(tmp_path / "missing.txt")


def test_empty_lines_are_skipped_and_counted(tmp_path, caplog):
    path = tmp_path / "some.txt"
    path.write_text("a dog on a bench.\n\n  \na cat on a mat.\n")
    with caplog.at_level(logging.INFO, logger="multigan"):
        assert read_lines(path) == ["a dog on a bench.", "a cat on a mat."]
    assert "skipped 2 empty line(s) of 4" in caplog.text


def test_split_is_deterministic_and_disjoint(captions):
    lines = read_lines(captions)
    train, val = split_lines(lines, 0.1, seed=3)
    assert (len(train), len(val)) == (180, 20)
    assert sorted(train + val) == sorted(lines)
    assert split_lines(lines, 0.1, seed=3) == (train, val) and split_lines(lines, 0.1, seed=4)[1] != val
    with pytest.raises(TextDataError):
        split_lines(lines, 1.0)
    with pytest.raises(TextDataError, match=r"^captions.txt: cannot split 1 line\(s\)"):
        split_lines(lines[:1], 0.1, source="captions.txt")


def test_default_length_is_capped_against_a_pathological_line(captions, caplog):
    from multigan.text.tokenizer import default_max_length

    lines = read_lines(captions)
    natural = WordTokenizer.train(lines).max_length
    assert natural == max(len(WordTokenizer.train(lines).split(s)) for s in lines)  # short captions: the longest
    assert default_max_length([5] * 99 + [3293]) == 10 and default_max_length([7, 37]) == 37
    with caplog.at_level(logging.WARNING, logger="multigan"):
        tok = WordTokenizer.train(lines + [" ".join(["word"] * 3293)])
    # one 3,293-word line does not make every sequence 3,294 ids long: twice the 99th percentile at most
    assert natural <= tok.max_length <= 2 * natural and tok.seq_len == tok.max_length + 1
    assert f"1 of {len(lines) + 1} sentences are longer than {tok.max_length} tokens (the longest has 3293)" \
        in caplog.text
    assert "data.max_length" in caplog.text


def test_dataset_items_and_onehot_collate(captions):
    tok = WordTokenizer.train(read_lines(captions))
    ds = TokenIdsDataset.from_lines(read_lines(captions), tok)
    item = ds[0]
    assert set(item) == {"real"} and item["real"].shape == (tok.seq_len,)
    batch = onehot_collate(tok.vocab_size)([ds[0], ds[1]])
    assert batch["real"].shape == (2, tok.seq_len, tok.vocab_size)
    assert torch.equal(batch["real"].argmax(-1), torch.stack([ds[0]["real"], ds[1]["real"]]))
