"""``lit-gen lexicon segment`` and ``lit-gen couplet --file`` keep every line: one output line
per input line (blank ones too), CRLF and a UTF-8 BOM accepted, a line the model cannot take
reported by its number. Property tests on random texts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import lightning
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lit_gen.cli import main
from lit_gen.tasks.couplet import CoupletTagger
from lit_gen.tasks.lexicon.lexicon import Lexicon
from lit_gen.utils.textio import split_lines

HAN = "晚风摇树还挺夜雨敲花更香春眠秋梦山高水长日月星辰天地人云我们今天"
PUNCT = "，。！？、；：“”《》…—.,!?()"
BLANK = st.text(alphabet=" \t\u3000", max_size=3)  # empty or whitespace only
PUNCT_ONLY = st.text(alphabet=PUNCT, min_size=1, max_size=6)


def file_bytes(lines: list[str], crlf: list[bool], bom: bool) -> bytes:
    """The lines joined by LF or CRLF (per line), each ended, with an optional BOM."""
    text = "".join(line + ("\r\n" if cr else "\n") for line, cr in zip(lines, crlf))
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def texts(line: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[list[str], list[bool], bool]]:
    return st.lists(st.one_of(BLANK, PUNCT_ONLY, line), max_size=10).flatmap(
        lambda lines: st.tuples(st.just(lines), st.lists(st.booleans(), min_size=len(lines),
                                                         max_size=len(lines)), st.booleans()))


def output_lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8")
    assert not text or text.endswith("\n")
    return text.split("\n")[:-1]


def test_split_lines_cuts_at_newlines_only():
    assert split_lines("\ufeffa\r\n\nb") == ["a", "", "b"]
    assert split_lines("a\x0cb\u2028c\n\n") == ["a\x0cb\u2028c", ""]
    assert split_lines("") == [] and split_lines("\n") == [""]


@pytest.fixture(scope="module")
def lexicon_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lex") / "lexicon.tsv"
    words = ["今天", "我们", "天地", "山高", "水长", "日月", "星辰", "春眠", *HAN]
    Lexicon(words, np.arange(len(words), 0, -1) * 10).save(path)
    return path


@settings(max_examples=40, deadline=None)
@given(texts(st.text(alphabet=HAN + PUNCT + " abcXY0129%.", min_size=1, max_size=30)))
def test_segment_writes_one_line_per_line_and_loses_no_character(lexicon_file, text):
    lines, crlf, bom = text
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in.txt", Path(tmp) / "out.txt"
        source.write_bytes(file_bytes(lines, crlf, bom))
        assert main(["lexicon", "segment", "--lexicon", str(lexicon_file), "--input", str(source),
                     "--out", str(out)]) == 0
        segmented = output_lines(out)
    assert len(segmented) == len(lines)
    for given_line, words in zip(lines, segmented):
        assert "".join(words.split()) == "".join(given_line.split())


def test_segment_names_the_line_that_is_too_long(lexicon_file, tmp_path, monkeypatch, capsys):
    import lit_gen.tasks.lexicon.io as io

    monkeypatch.setattr(io, "MAX_LINE_CHARS", 10)
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("今天\n\n" + "我" * 11 + "\n", encoding="utf-8")
    assert main(["lexicon", "segment", "--lexicon", str(lexicon_file), "--input", str(source),
                 "--out", str(out)]) == 2
    assert "line 3 has 11 characters" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


MAX_CHARS = 12


@pytest.fixture(scope="module")
def couplet_ckpt(tmp_path_factory) -> Path:
    """An untrained tagger saved as a checkpoint: the command's line handling, not its poetry."""
    torch.manual_seed(0)
    model = CoupletTagger(dim=16, depth=1, max_chars=MAX_CHARS, vocab=["<pad>", "<unk>", *dict.fromkeys(HAN + "，。！？、")])
    path = tmp_path_factory.mktemp("couplet") / "tiny.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": lightning.__version__}, path)
    return path


@settings(max_examples=30, deadline=None)
@given(texts(st.text(alphabet=HAN + "，。！？ ", min_size=1, max_size=MAX_CHARS + 4)))
def test_couplet_file_writes_one_line_per_line(couplet_ckpt, text):
    lines, crlf, bom = text
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in.txt", Path(tmp) / "out.txt"
        source.write_bytes(file_bytes(lines, crlf, bom))
        code = main(["couplet", "--ckpt", str(couplet_ckpt), "--file", str(source), "--out", str(out)])
        lowers = output_lines(out)
    assert len(lowers) == len(lines)
    too_long = [k + 1 for k, line in enumerate(lines) if len("".join(line.split())) > MAX_CHARS]
    assert code == (1 if too_long else 0)
    for k, (upper, lower) in enumerate(zip(lines, lowers), start=1):
        chars = "".join(upper.split())
        if not chars or k in too_long:
            assert lower == ""
        else:  # as long as the upper line, its punctuation copied in place
            assert len(lower) == len(chars)
            assert [c for c in lower if c in PUNCT] == [c for c in chars if c in PUNCT]


def test_couplet_file_reports_a_too_long_line_by_number(couplet_ckpt, tmp_path, capsys):
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_bytes(file_bytes(["春眠", "", "山" * (MAX_CHARS + 1), "，。"], [True] * 4, True))
    assert main(["couplet", "--ckpt", str(couplet_ckpt), "--file", str(source), "--out", str(out)]) == 1
    assert f"line 3: line of {MAX_CHARS + 1} characters is longer" in capsys.readouterr().err
    lowers = output_lines(out)
    assert len(lowers) == 4 and lowers[1] == lowers[2] == "" and len(lowers[0]) == 2 and lowers[3] == "，。"


def test_parse_writes_one_tree_line_per_line(lexicon_file, tmp_path):
    templates = tmp_path / "templates.tsv"
    templates.write_text("template\tcount\n我们 _ 今天\t5\n", encoding="utf-8")
    lines = ["我们晚风今天", "", "，。", "山高"]
    source, out = tmp_path / "in.txt", tmp_path / "trees.txt"
    source.write_bytes(file_bytes(lines, [True, True, False, True], bom=True))
    assert main(["lexicon", "parse", "--lexicon", str(lexicon_file), "--templates", str(templates),
                 "--input", str(source), "--out", str(out)]) == 0
    trees = output_lines(out)
    assert len(trees) == 4 and trees[1] == "" and "".join(trees[0].split()).strip("()[]") != ""
