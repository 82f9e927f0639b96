"""lit_gen.utils.io: atomic writes keep the old file on error and leave no temporary files."""

import pytest
import torch

from lit_gen.utils.io import atomic_path, atomic_save, atomic_write_lines, atomic_write_text


def test_write_text_and_lines(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "x\ny\n")
    assert target.read_bytes() == b"x\ny\n"
    atomic_write_lines(target, ["上联", "", "z"])
    assert target.read_text(encoding="utf-8") == "上联\n\nz\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_error_keeps_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_save_round_trip(tmp_path):
    target = tmp_path / "t.pt"
    atomic_save({"w": torch.arange(3)}, target)
    assert torch.equal(torch.load(target)["w"], torch.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["t.pt"]
