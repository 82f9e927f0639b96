"""Lexicon task through Lightning (fit/test, bench metrics, 2-process DDP), the CLI, and PKU."""

from __future__ import annotations

import random

import pytest

from lit_gen.bench.registry import get_metric
from lit_gen.cli import LitGenCLI
from lit_gen.cli import main as lit_gen_main


def _write_corpus(folder, seed=0, sentences=1500):
    rng = random.Random(seed)
    chars = [chr(0x4E00 + i) for i in range(50)]
    vocab = sorted({"".join(rng.choice(chars) for _ in range(rng.choice([1, 2, 2, 3]))) for _ in range(100)})
    weights = [1 / (r + 1) for r in range(len(vocab))]
    gold = [rng.choices(vocab, weights, k=rng.randint(3, 10)) for _ in range(sentences)]
    (folder / "train.txt").write_text("".join("".join(ws) + "。\n" for ws in gold[100:]), encoding="utf-8")
    (folder / "gold.txt").write_text("".join("  ".join(ws) + "  。\n" for ws in gold[:100]), encoding="utf-8")
    (folder / "words.txt").write_text("\n".join(vocab[:50]) + "\n", encoding="utf-8")


def _args(tmp_path, *extra):
    return [
        "--trainer.max_epochs=1", "--trainer.accelerator=cpu", "--trainer.logger=false",
        "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
        "--model=lit_gen.tasks.lexicon.LexiconModule", f"--model.output_dir={tmp_path / 'out'}",
        f"--model.training_words={tmp_path / 'words.txt'}",
        "--data=lit_gen.tasks.lexicon.TextCorpusDataModule", f"--data.train_files=[{tmp_path / 'train.txt'}]",
        f"--data.gold_file={tmp_path / 'gold.txt'}", "--data.batch_size=200", *extra,
    ]


def test_fit_builds_and_test_scores(tmp_path):
    _write_corpus(tmp_path)
    cli = LitGenCLI(args=_args(tmp_path), run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert (tmp_path / "out" / "lexicon.tsv").is_file() and (tmp_path / "out" / "stats.json").is_file()
    stats = cli.model.stats
    assert stats["L_lexicon_bits"] < stats["L_chars_bits"]
    scores = cli.trainer.test(cli.model, datamodule=cli.datamodule)[0]
    assert scores["test/F1"] > 0.75 and 0 <= scores["test/OOV_R"] <= 1
    bench = get_metric("seg_f1")(cli.model, cli.datamodule, cli.trainer)
    assert bench.values["F1"] == pytest.approx(scores["test/F1"])
    chars = get_metric("seg_f1")(cli.model, cli.datamodule, cli.trainer, segmenter="chars")
    assert chars.values["F1"] < bench.values["F1"] - 0.2
    assert get_metric("lexicon_stats")(cli.model, cli.datamodule, cli.trainer).values["words"] == len(cli.model.lexicon)


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 52 s on 2 busy cores
def test_two_processes_give_the_same_lexicon_and_scores(tmp_path):
    _write_corpus(tmp_path)
    runs = {}
    for devices in (1, 2):
        out = tmp_path / f"out{devices}"
        extra = [f"--trainer.devices={devices}", f"--model.output_dir={out}"]
        if devices == 2:
            extra.append("--trainer.strategy=ddp_spawn")
        cli = LitGenCLI(args=_args(tmp_path, *extra), run=False)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        cli.model.hparams.lexicon_path = None
        runs[devices] = (out / "lexicon.tsv").read_text(encoding="utf-8")
        model = type(cli.model)(lexicon_path=str(out / "lexicon.tsv"), training_words=str(tmp_path / "words.txt"))
        runs[devices, "test"] = cli.trainer.test(model, datamodule=cli.datamodule)[0]
    assert runs[1] == runs[2]  # counts merged exactly: identical lexicon file
    assert runs[1, "test"] == pytest.approx(runs[2, "test"])


def test_cli_build_segment_score_and_errors(tmp_path, capsys):
    _write_corpus(tmp_path)
    lex, seg = tmp_path / "lex.tsv", tmp_path / "seg.txt"
    assert lit_gen_main(["lexicon", "build", "--input", str(tmp_path / "train.txt"), "--out", str(lex)]) == 0
    assert lit_gen_main(["lexicon", "segment", "--lexicon", str(lex), "--input", str(tmp_path / "gold.txt"),
                         "--format", "segmented", "--out", str(seg)]) == 0
    capsys.readouterr()
    assert lit_gen_main(["lexicon", "score", "--gold", str(tmp_path / "gold.txt"), "--pred", str(seg)]) == 0
    assert '"F1"' in capsys.readouterr().out
    tpl, trees = tmp_path / "tpl.tsv", tmp_path / "trees.txt"
    assert lit_gen_main(["lexicon", "templates", "--lexicon", str(lex), "--input", str(tmp_path / "train.txt"),
                         "--min-count", "5", "--out", str(tpl)]) == 0
    assert tpl.read_text(encoding="utf-8").startswith("template\tcount\n")
    assert lit_gen_main(["lexicon", "parse", "--lexicon", str(lex), "--templates", str(tpl),
                         "--input", str(tmp_path / "train.txt"), "--out", str(trees)]) == 0
    assert len(trees.read_text(encoding="utf-8").splitlines()) == 1400
    (tmp_path / "gbk.txt").write_bytes("今天天气不错".encode("gbk"))
    bad = tmp_path / "bad.tsv"
    assert lit_gen_main(["lexicon", "build", "--input", str(tmp_path / "gbk.txt"), "--out", str(bad)]) == 2
    assert "gb18030" in capsys.readouterr().err and not bad.exists()
    (tmp_path / "other.txt").write_text("完全不同的文本\n", encoding="utf-8")
    assert lit_gen_main(["lexicon", "score", "--gold", str(tmp_path / "gold.txt"), "--pred", str(tmp_path / "other.txt")]) == 2


@pytest.mark.data
@pytest.mark.slow
def test_pku_protocol_beats_the_anchors(shared_data, tmp_path):
    """The shipped PKU config on the real data: above every-character and the bigram anchor."""
    cli = LitGenCLI(args=["--config", "configs/lexicon/pku.yaml", f"--model.output_dir={tmp_path}",
                          f"--data.data_root={shared_data}"], run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    scores = get_metric("seg_f1")(cli.model, cli.datamodule, cli.trainer).values
    assert scores["F1"] > 0.70  # every-character 0.343, nlp-zero 0.56 (../shared/notes)
