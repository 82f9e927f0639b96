"""Configuration, validation and data errors through the real ``lit-gen`` command: one short
paragraph naming the problem and the fix, exit code 2, no traceback (unless ``--debug``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lit_gen.cli import main
from lit_gen.utils.errors import MAX_LINES

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--trainer.fast_dev_run=true", "--trainer.enable_progress_bar=false"]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run([sys.executable, "-m", "lit_gen.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=environ)


def error_report(result: subprocess.CompletedProcess, command: str) -> list[str]:
    """The report's lines (Lightning's own log lines before it are not part of it)."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"lit-gen {command}: error: "))
    report = lines[start:]
    assert len(report) <= MAX_LINES, "\n".join(report)
    assert report[-1].startswith("(--debug")
    return [line.strip() for line in report]


def test_unknown_gan_objective_is_one_paragraph_with_the_known_ones(tmp_path):
    result = run(["fit", "--config", str(ROOT / "configs/gan/gan_qp_mnist.yaml"),
                  "--model.objective", "nope", *FAST], tmp_path)
    text = " ".join(error_report(result, "fit"))
    assert "unknown GAN objective 'nope'; known: gan_qp, hinge" in text
    assert "fix:" in text


def test_negative_beta_is_reported_and_debug_shows_the_traceback(tmp_path):
    args = ["fit", "--config", str(ROOT / "configs/vib.yaml"), "--model.beta", "-1", *FAST]
    text = " ".join(error_report(run(args, tmp_path), "fit"))
    assert "beta must be a finite number >= 0, got -1.0" in text
    for debug in (run([*args, "--debug"], tmp_path), run(args, tmp_path, LIT_GEN_DEBUG="1")):
        assert debug.returncode != 0 and "Traceback" in debug.stderr
        assert "beta must be a finite number >= 0" in debug.stderr


def test_a_wrong_option_type_is_short_and_names_the_option(tmp_path):
    result = run(["fit", "--config", str(ROOT / "configs/vae.yaml"), "--model.latent_dim", "abc", *FAST], tmp_path)
    text = "\n".join(error_report(result, "fit"))
    assert "latent_dim" in text and "abc" in text and "Given value" not in text


@pytest.mark.data
def test_truncated_mnist_file_is_named(tmp_path, shared_data):
    root = tmp_path / "mnist"
    shutil.copytree(shared_data / "mnist", root)
    damaged = root / "train-images-idx3-ubyte.gz"
    damaged.chmod(0o644)
    data = damaged.read_bytes()
    damaged.write_bytes(data[:len(data) // 3])
    result = run(["fit", "--config", str(ROOT / "configs/vae.yaml"), f"--data.root={root}", *FAST], tmp_path)
    text = " ".join(error_report(result, "fit"))
    assert str(damaged) in text and "fix:" in text


@pytest.mark.data
def test_lexicon_test_without_a_lexicon_is_a_config_error(tmp_path, shared_data):
    result = run(["test", "--config", str(ROOT / "configs/lexicon/pku.yaml")], tmp_path,
                 LIT_GEN_DATA=str(shared_data))
    text = " ".join(error_report(result, "test"))
    assert "model.lexicon_path" in text and "lit-gen fit" in text
    assert not (tmp_path / "lexicon_out").exists()


def test_unexpected_errors_keep_their_traceback(monkeypatch, tmp_path):
    import lit_gen.metrics.evaluate as evaluate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(evaluate, "evaluate", broken)
    with pytest.raises(ZeroDivisionError):
        main(["eval", str(tmp_path)])


def test_eval_input_errors_are_reported(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing"), "--reference", "digits"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "lit-gen eval: error:" in err and "missing does not exist" in err and "Traceback" not in err


def test_only_checks_that_lit_gen_raises_count_as_user_errors():
    from lit_gen.metrics.cli import _optional_int
    from lit_gen.metrics.evaluate import parse_reference
    from lit_gen.utils.errors import user_error

    with pytest.raises(ValueError) as implicit:
        _optional_int("abc")  # int("abc") inside our code: a bug's ValueError, not a check
    assert user_error(implicit.value) is None
    with pytest.raises(ValueError) as check:
        parse_reference("imagenet:val")
    assert user_error(check.value) is check.value
    with pytest.raises(ValueError) as outside:
        int("abc")  # not lit-gen's code at all
    assert user_error(outside.value) is None
