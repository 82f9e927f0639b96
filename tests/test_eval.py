"""``lit-gen eval``: density/coverage by hand, equality with the bench's numbers, inputs, output.

Offline and small: scikit-learn's digits at 28×28 and the classifier extractor trained for 3
epochs (the same cache folder and recipe as test_fidelity.py, so it trains once per session).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from lit_gen.cli import main
from lit_gen.data.errors import CorruptDataError
from lit_gen.metrics.classifier import load_split
from lit_gen.metrics.density import density_coverage
from lit_gen.metrics.evaluate import evaluate
from lit_gen.metrics.fidelity import compute_fidelity

EPOCHS = 3
N = 120  # generated images; the reference is the whole digits test split (297)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.getbasetemp() / "lit_gen_fidelity_cache")


@pytest.fixture(scope="module")
def fake_images() -> torch.Tensor:
    """uint8 (N, 1, 28, 28): digits train images stand in for a model's samples."""
    return load_split("digits", "train", image_size=28)[0][:N]


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory, fake_images):
    folder = tmp_path_factory.mktemp("samples")
    for i, image in enumerate(fake_images):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:04d}.png")
    return folder


def test_density_coverage_matches_a_hand_computed_case():
    # real 1-D points 0, 1, 3, 6, 20 with k = 1: radii (distance to the nearest other real point)
    # 1, 1, 2, 3, 14. Fake 0.5 lies in the balls of 0 and 1 (2 balls); fake 5 in those of 3
    # (|5-3| = 2 <= 2, on the edge) and 6 (1 <= 3), not 20's (15 > 14): 2 balls.
    # density = (2 + 2) / (k * 2) = 2. Coverage: the nearest fake of 0, 1, 3, 6 is inside their
    # radius; that of 20 (5, at 15) is not: 4 / 5.
    real = torch.tensor([[0.0], [1.0], [3.0], [6.0], [20.0]])
    fake = torch.tensor([[0.5], [5.0]])
    assert density_coverage(real, fake, nearest_k=1) == pytest.approx({"density": 2.0, "coverage": 0.8})
    # k = 2: radii 3, 2, 3, 5, 17. Fake 0.5 is inside 0, 1, 3 (3 balls); 5 inside 3, 6, 20 (3).
    # density = 6 / (2 * 2) = 1.5; every real point has a fake within its radius: coverage 1.
    assert density_coverage(real, fake, nearest_k=2) == pytest.approx({"density": 1.5, "coverage": 1.0})
    # small chunks give the same answer as one block
    assert density_coverage(real, fake, nearest_k=2, chunk=2) == pytest.approx({"density": 1.5, "coverage": 1.0})
    with pytest.raises(ValueError, match="nearest_k"):
        density_coverage(real, fake, nearest_k=5)


def test_eval_of_a_folder_equals_the_bench_metric_on_the_same_images(png_folder, fake_images, cache):
    class Replay:  # a "model" whose samples are the folder's images, in order
        def __init__(self):
            self.next = 0

        def sample(self, n):
            out = fake_images[self.next:self.next + n].float() / 255
            self.next += n
            return out

    digits = SimpleNamespace(name="digits", image_size=28, root=None, use_hub=False)
    bench = compute_fidelity(Replay(), digits, ("fid", "kid", "is", "prc"), n_fake=N, n_real=None,
                             cache=cache, classifier_epochs=EPOCHS)
    ours = evaluate(png_folder, reference="digits:test", cache=cache, classifier_epochs=EPOCHS)
    for name, value in bench.values.items():
        assert ours.values[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert ours.values["fid[classifier]"] > 0
    assert 0 <= ours.values["coverage[classifier]"] <= 1 and ours.values["density[classifier]"] > 0
    proto = ours.protocol
    assert proto["n_fake"] == N and proto["reference"]["n"] == 297 and proto["reference"]["split"] == "test"
    assert proto["weights_sha256"] == bench.protocol["weights_sha256"] and proto["seed"] == 0
    assert proto["input"]["kind"] == "folder" and proto["input"]["resize"] == "none"


def test_eval_command_prints_and_writes_the_record_and_reads_arrays(tmp_path, fake_images, png_folder,
                                                                     cache, capsys):
    nhwc = tmp_path / "samples.npy"
    np.save(nhwc, fake_images.numpy().transpose(0, 2, 3, 1))  # uint8 NHWC
    floats = tmp_path / "samples.npz"
    np.savez(floats, images=fake_images.numpy() / 255.0)  # float NCHW in [0, 1]
    out = tmp_path / "eval.json"
    common = ["--reference", "digits:test", "--metrics", "fid", "dc", "--cache", cache,
              "--classifier-epochs", str(EPOCHS)]
    assert main(["eval", str(nhwc), *common, "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == printed
    assert set(printed) == {"metrics", "protocol"}
    assert set(printed["metrics"]) == {"fid[classifier]", "density[classifier]", "coverage[classifier]"}
    assert main(["eval", str(floats), *common]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == printed["metrics"]
    assert main(["eval", str(png_folder), *common]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == printed["metrics"]


def test_eval_of_a_checkpoint_samples_it_like_the_bench(tmp_path, cache):
    from lit_gen.data import ImageDataModule
    from lit_gen.models import VAE

    fit = ["fit", "--model", "VAE", "--model.latent_dim=2", "--data", "ImageDataModule",
           "--data.name=digits", f"--trainer.default_root_dir={tmp_path}", "--trainer.max_epochs=1",
           "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
           "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    assert main(fit) == 0
    ckpt = next(tmp_path.rglob("*.ckpt"))
    # no --reference: the checkpoint's data set (digits) and its test split
    ours = evaluate(ckpt, n=64, metrics=("fid",), cache=cache, classifier_epochs=EPOCHS, seed=3)
    model = VAE.load_from_checkpoint(ckpt, map_location="cpu")
    bench = compute_fidelity(model, ImageDataModule(name="digits"), ("fid",), n_fake=64, n_real=None,
                             cache=cache, classifier_epochs=EPOCHS, seed=3)
    assert ours.values["fid[classifier]"] == pytest.approx(bench.values["fid[classifier]"], rel=1e-6)
    assert ours.protocol["input"]["kind"] == "checkpoint" and ours.protocol["reference"]["dataset"] == "digits"
    with pytest.raises(ValueError, match="--n"):
        evaluate(ckpt, cache=cache)


def test_bad_inputs_name_the_file_and_what_is_expected(tmp_path, cache):
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 5, 8, 8), dtype=np.uint8))
    with pytest.raises(CorruptDataError, match=r"wrong\.npy.*1 or 3 channels"):
        evaluate(wrong, reference="digits:test", cache=cache)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("L", (28, 28)).save(mixed / "a.png")
    Image.new("L", (32, 32)).save(mixed / "b.png")
    with pytest.raises(CorruptDataError, match=r"differ in size: a\.png .* b\.png"):
        evaluate(mixed, reference="digits:test", cache=cache)
    with pytest.raises(ValueError, match="DATASET one of"):
        evaluate(mixed, reference="imagenet:val", cache=cache)
    with pytest.raises(ValueError, match="--reference"):
        evaluate(wrong, cache=cache)


def test_against_a_second_set_and_resizing(tmp_path, fake_images, png_folder, cache):
    same = tmp_path / "same.npy"
    np.save(same, fake_images.numpy())
    res = evaluate(png_folder, against=same, classifier_dataset="digits", metrics=("fid", "dc"),
                   cache=cache, classifier_epochs=EPOCHS)
    # a set against itself: no distance, and every real ball holds its own point
    assert abs(res.values["fid[classifier]"]) < 1e-3 and res.values["coverage[classifier]"] == 1.0
    assert res.protocol["reference"]["kind"] == "array"
    small = tmp_path / "small.npy"
    np.save(small, torch.nn.functional.interpolate(fake_images.float(), size=14).round().to(torch.uint8).numpy())
    res = evaluate(small, reference="digits:test", image_size=28, metrics=("fid",), cache=cache,
                   classifier_epochs=EPOCHS)
    assert res.protocol["input"]["resize"] == "bilinear, antialiased, 14x14 -> 28x28"
    assert res.protocol["reference"]["image_size"] == 28
    with pytest.raises(ValueError, match="--classifier-dataset"):
        evaluate(png_folder, against=same, cache=cache)


def test_a_checkpoint_without_sample_is_refused_by_name(tmp_path, cache):
    import lightning

    from lit_gen.tasks.couplet import CoupletTagger

    model = CoupletTagger(dim=8, depth=1, vocab=["<pad>", "<unk>", "春", "眠"])
    ckpt = tmp_path / "tagger.ckpt"  # saved as `lit-gen fit` saves it: with the class to build
    torch.save({"state_dict": model.state_dict(), "pytorch-lightning_version": lightning.__version__,
                "hyper_parameters": {**model.hparams, "_class_path": "lit_gen.tasks.couplet.CoupletTagger",
                                     "_instantiator": "lightning.pytorch.cli.instantiate_module"}}, ckpt)
    with pytest.raises(ValueError, match=r"CoupletTagger .* has no sample\(n\)"):
        evaluate(ckpt, n=4, reference="digits:test", cache=cache, classifier_epochs=EPOCHS)
