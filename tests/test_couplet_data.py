"""CoupletDataModule on small wb14123-format files written in a temporary folder."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lit_gen.data.errors import CorruptDataError, DataNotFoundError
from lit_gen.tasks.couplet.data import CoupletDataModule, LengthBucketSampler, read_pairs
from lit_gen.tasks.couplet.vocab import Vocab

UPPERS = ["晚 风 摇 树 树 还 挺", "春 眠", "风 声 ， 雨 声", "花 开", "山 高 水 长", "日 月", "天 地 人"]
LOWERS = ["夜 雨 敲 花 花 更 香", "秋 梦", "雨 意 ， 风 情", "叶 落", "海 阔 天 空", "星 辰", "云 山 水"]


def write_split(folder: Path, uppers: list[str], lowers: list[str], gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, lines in (("in", uppers), ("out", lowers)):
        text = "".join(line + " \n" for line in lines).encode()
        if gz:
            (folder / f"{stem}.txt.gz").write_bytes(gzip.compress(text))
        else:
            (folder / f"{stem}.txt").write_bytes(text)


@pytest.fixture
def couplet_root(tmp_path: Path) -> Path:
    write_split(tmp_path / "train", UPPERS * 20 + ["长 短 不 齐"], LOWERS * 20 + ["短 长"], gz=True)
    write_split(tmp_path / "test", UPPERS, LOWERS)
    return tmp_path


def test_reads_gz_and_plain_and_removes_spaces(couplet_root):
    train, test = read_pairs(couplet_root / "train"), read_pairs(couplet_root / "test")
    assert len(train) == 141 and len(test) == 7
    assert test[0] == ("晚风摇树树还挺", "夜雨敲花花更香")


def test_setup_splits_filters_and_builds_vocab(couplet_root):
    dm = CoupletDataModule(root=str(couplet_root), val_size=10, max_length=5, batch_size=4)
    dm.setup("fit")
    # 20 copies of the 7-character pair and the unequal pair are dropped
    assert dm.dropped["train_unequal_or_long"] == 21
    assert len(dm.train_set) + len(dm.val_set) == 120 and len(dm.val_set) == 10
    assert dm.vocab.tokens[:2] == ["<pad>", "<unk>"] and "晚" not in dm.vocab and "花" in dm.vocab
    for batch in dm.train_dataloader():
        b, n = batch.upper.shape
        assert batch.lower.shape == (b, n) and b <= 4
        assert all(len(t) == n for t in batch.upper_text)  # one length per batch
        assert dm.vocab.decode(batch.lower[0].tolist()) == batch.lower_text[0]


def test_min_count_maps_rare_characters_to_unk():
    vocab = Vocab.build(["春风春", "秋"], min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "春"]
    assert vocab.encode("春秋").tolist() == [2, 1]


def test_bucket_sampler_covers_every_index_once_and_shards_under_ddp():
    sizes = [5, 3, 9]
    batches = list(LengthBucketSampler(sizes, 4, shuffle=True, seed=1))
    assert sorted(i for b in batches for i in b) == list(range(17))
    bounds = [(0, 5), (5, 8), (8, 17)]
    assert all(any(lo <= min(b) and max(b) < hi for lo, hi in bounds) for b in batches)
    ranks = [list(LengthBucketSampler(sizes, 4, shuffle=False, rank=r, world_size=2)) for r in range(2)]
    assert sorted(i for r in ranks for b in r for i in b) == list(range(17))  # evaluation: once each
    train = [LengthBucketSampler(sizes, 4, shuffle=True, rank=r, world_size=2) for r in range(2)]
    assert len(list(train[0])) == len(list(train[1])) == len(train[0])  # equal steps per rank


def test_not_gzip_is_a_clear_error(tmp_path):
    (tmp_path / "in.txt.gz").write_text("春 风\n")
    (tmp_path / "out.txt").write_text("秋 月\n")
    with pytest.raises(CorruptDataError, match=r"in\.txt\.gz.*not gzip"):
        read_pairs(tmp_path)


def test_misaligned_halves_and_missing_folder(tmp_path):
    write_split(tmp_path / "bad", ["春 风", "秋 月"], ["夏 雨"])
    with pytest.raises(CorruptDataError, match="2 lines but"):
        read_pairs(tmp_path / "bad")
    dm = CoupletDataModule(root=str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="--data.root"):
        dm.setup("fit")


@pytest.mark.data
def test_real_test_split(shared_data):
    pairs = read_pairs(shared_data / "couplet" / "test")
    assert len(pairs) == 4000 and all(len(u) == len(l) for u, l in pairs)
