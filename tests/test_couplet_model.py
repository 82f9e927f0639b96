"""CoupletTagger: shapes, learning on a fixed batch, training through the CLI, the writer API,
the ``lit-gen couplet`` command, and property tests of the writer: valid lines drawn from the
vocabulary, punctuation and unseen characters, and each kind of line it refuses."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lit_gen.cli import main as lit_gen_main
from lit_gen.nn.couplet import GatedConvBlock
from lit_gen.tasks.couplet import CoupletInputError, CoupletTagger, CoupletWriter, Rules
from lit_gen.tasks.couplet.metrics import check_rules
from test_couplet_data import LOWERS, UPPERS, write_split

TOKENS = ["<pad>", "<unk>", *"晚风摇树还挺夜雨敲花更香春眠秋梦，山高水长日月星辰天地人云"]


def test_gated_block_is_the_highway_gate():
    torch.manual_seed(0)
    block = GatedConvBlock(4, 3)
    x = torch.randn(2, 4, 5)
    h, g = block.conv(x).chunk(2, dim=1)
    # float32 rounding of the one-sigmoid form reaches ~2e-7 near zero outputs (9 of 300 random
    # draws failed allclose's default atol=1e-8); a wrong formula is off by ~0.1
    assert torch.allclose(block(x), x * torch.sigmoid(g) + h * torch.sigmoid(-g), atol=1e-6)
    assert GatedConvBlock(4, 3, dilation=2)(x).shape == x.shape


@pytest.mark.parametrize("backbone", ["conv", "transformer"])
def test_shapes_and_loss_decreases_on_a_fixed_batch(backbone):
    torch.manual_seed(0)
    model = CoupletTagger(backbone=backbone, dim=32, depth=2, dilations=(1, 2), vocab=TOKENS, dropout=0.0)
    ids = torch.randint(2, len(TOKENS), (8, 7))
    target = torch.randint(2, len(TOKENS), (8, 7))
    assert model(ids).shape == (8, 7, len(TOKENS))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(ids).flatten(0, 1), target.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_transformer_rejects_lines_over_max_chars():
    model = CoupletTagger(backbone="transformer", dim=16, depth=1, max_chars=8, vocab=TOKENS)
    with pytest.raises(CoupletInputError, match="longer than"):
        CoupletWriter(model).write(["春" * 9])


WRITER = CoupletWriter(CoupletTagger(dim=16, depth=2, max_chars=16, vocab=TOKENS).eval())


# Upper lines as users write them: characters of the model's vocabulary, punctuation (in the
# vocabulary or not), CJK characters it has never seen, optional spaces between characters
# (ASCII or the ideographic U+3000). Every example is a valid line: none is thrown away.
KNOWN = [t for t in TOKENS[2:] if t != "，"]
PUNCT = "，。、！？；："
UNSEEN = st.sampled_from([chr(c) for c in range(0x4E00, 0xA000) if chr(c) not in TOKENS])  # CJK block
CHAR = st.one_of(st.sampled_from(KNOWN), st.sampled_from(PUNCT), UNSEEN)
SPACE = st.sampled_from(["", "", " ", "\u3000"])


def spaced(chars: list[str], spaces: list[str]) -> str:
    return "".join(c + s for c, s in zip(chars, spaces))


@st.composite
def upper_lines(draw, min_size=1, max_size=WRITER.max_length):
    chars = draw(st.lists(CHAR, min_size=min_size, max_size=max_size))
    return chars, spaced(chars, draw(st.lists(SPACE, min_size=len(chars), max_size=len(chars))))


@settings(max_examples=100, deadline=None)
@given(upper_lines())
def test_writer_on_lines_of_the_vocabulary_and_beyond(example):
    chars, line = example
    upper = "".join(chars)
    out = WRITER.write([line])[0]  # never rejected: a CoupletInputError fails the test
    assert len(out) == len(upper)
    assert all(ok for rule, ok in check_rules(upper, out).items() if rule != "tone_ending")  # not enforced
    assert all(o == u for u, o in zip(upper, out) if u in PUNCT)  # punctuation copied in place
    assert WRITER.unknown == Counter(c for c in upper if c not in WRITER.model.vocab)


# each reason for refusing a line, on its own: the message names it and the line's number,
# and on_error="empty" writes "" for it and still writes the good line beside it
LATIN = "aZ09ＡＺ０９٣३"  # ASCII, full-width forms, Arabic-Indic and Devanagari digits


@st.composite
def blank_lines(draw):
    return draw(st.text(alphabet=" \t\u3000", max_size=8))


@st.composite
def long_lines(draw):
    return draw(upper_lines(min_size=WRITER.max_length + 1, max_size=WRITER.max_length + 8))[1]


@st.composite
def latin_lines(draw):
    chars, _ = draw(upper_lines(max_size=WRITER.max_length - 1))
    chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(LATIN)))
    return spaced(chars, [""] * len(chars))


@pytest.mark.parametrize("lines, reason", [(blank_lines(), "empty line"), (long_lines(), "is longer than"),
                                           (latin_lines(), "Latin letters or digits")],
                         ids=["blank", "too_long", "latin_or_digit"])
def test_each_rejection_reason(lines, reason):
    @settings(max_examples=30, deadline=None)
    @given(lines)
    def check(line):
        with pytest.raises(CoupletInputError, match=f"^line 2: .*{reason}"):
            WRITER.write(["春眠", line])
        assert WRITER.write([line, "春眠"], on_error="empty") == ["", WRITER.write(["春眠"])[0]]

    check()


def test_fit_checkpoint_writer_cli_and_predict(tmp_path, capsys):
    root = tmp_path / "data"
    write_split(root / "train", UPPERS * 30, LOWERS * 30)
    write_split(root / "test", UPPERS, LOWERS)
    common = ["--model", "lit_gen.tasks.couplet.CoupletTagger", "--model.dim", "32", "--model.depth", "2",
              "--data", "lit_gen.tasks.couplet.CoupletDataModule", f"--data.root={root}",
              "--data.val_size", "7", "--trainer.enable_progress_bar", "false",
              f"--trainer.default_root_dir={tmp_path}", "--trainer.logger", "false"]
    assert lit_gen_main(["fit", *common, "--model.lr", "0.01", "--trainer.max_epochs", "8",
                         "--trainer.enable_checkpointing", "true"]) == 0
    ckpt = next(tmp_path.rglob("*.ckpt"))

    writer = CoupletWriter.from_checkpoint(ckpt)
    out = writer.write(["晚风摇树树还挺", "春 眠", "风声，雨声"])
    assert [len(o) for o in out] == [7, 2, 5] and out[2][2] == "，"
    assert out[0][3] == out[0][4] and out[0] == "夜雨敲花花更香"  # memorised training pair
    plain = CoupletWriter.from_checkpoint(ckpt, rules=Rules.none()).write(["春眠"])
    assert plain[0] == "秋梦"

    capsys.readouterr()
    assert lit_gen_main(["couplet", "--ckpt", str(ckpt), "春眠"]) == 0
    assert capsys.readouterr().out.strip() == "秋梦"
    lines = tmp_path / "uppers.txt"
    lines.write_text("春眠\n\nabc\n山高水长\n", encoding="utf-8")
    assert lit_gen_main(["couplet", "--ckpt", str(ckpt), "--file", str(lines), "--out", str(tmp_path / "o.txt")]) == 1
    assert (tmp_path / "o.txt").read_text(encoding="utf-8").splitlines() == ["秋梦", "", "", "海阔天空"]
    err = capsys.readouterr().err
    assert "line 3: Latin letters" in err and "line 2" not in err
    assert lit_gen_main(["couplet", "--ckpt", str(tmp_path / "missing.ckpt"), "春眠"]) == 2
    assert lit_gen_main(["couplet", "--ckpt", str(ckpt), "--evaluate", "--root", str(root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 7 and report["rule_repeat_alignment"] == 100.0

    from lit_gen.tasks.couplet.bench import couplet_bleu, couplet_rules
    from lit_gen.tasks.couplet.data import CoupletDataModule

    dm = CoupletDataModule(root=str(root))
    dm.vocab = writer.model.vocab
    bleu = couplet_bleu(writer.model, dm, None)
    assert bleu.protocol["pairs"] == 7 and 0 <= bleu.values["bleu4"] <= 100
    rules = couplet_rules(writer.model, dm, None).values
    assert rules["rule_equal_length"] == rules["rule_punctuation"] == rules["rule_repeat_alignment"] == 100

    uppers = tmp_path / "predict.txt"
    uppers.write_text("山高水长\n\n春眠\n晚风摇树树还挺\n", encoding="utf-8")
    assert lit_gen_main(["predict", *common, f"--ckpt_path={ckpt}", f"--data.predict_file={uppers}",
                         "--trainer.callbacks+=lit_gen.tasks.couplet.CoupletPredictionWriter",
                         f"--trainer.callbacks.output={tmp_path / 'pred.txt'}"]) == 0
    assert (tmp_path / "pred.txt").read_text(encoding="utf-8").splitlines() == ["海阔天空", "", "秋梦", out[0]]


def test_cosine_schedule_warms_up_then_decays_to_zero():
    import math
    from types import SimpleNamespace

    model = CoupletTagger(dim=8, depth=1, vocab=TOKENS, lr=1e-3, warmup_steps=2, lr_schedule="cosine")
    model._trainer = SimpleNamespace(estimated_stepping_batches=10)  # what a 10-step fit reports
    sched = model.configure_optimizers()["lr_scheduler"]["scheduler"]
    factors = [sched.lr_lambdas[0](step) for step in range(11)]
    assert factors[:2] == [0.5, 1.0]  # linear warm-up over 2 steps
    assert factors[2:] == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(9)])
    assert factors[-1] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="lr_schedule"):
        CoupletTagger(lr_schedule="step")


BEAM_WRITER = CoupletWriter(WRITER.model, beam_width=4)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(KNOWN), min_size=2, max_size=10))
def test_beam_writer_keeps_the_rules(chars):
    """A beam of 4 writes lines of the upper line's length that keep every structural rule."""
    upper = "".join(chars)
    beam = BEAM_WRITER.write([upper])[0]
    assert len(beam) == len(upper)
    assert all(ok for rule, ok in check_rules(upper, beam).items() if rule != "tone_ending")
