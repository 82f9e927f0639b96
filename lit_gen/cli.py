"""The ``lit-gen`` command: Lightning's CLI for training, plus lit-gen's own commands.

``lit-gen fit|validate|test|predict`` is a :class:`LitGenCLI` (a ``LightningCLI``): any
LightningModule / LightningDataModule given by ``class_path`` or short name, configs from YAML.
The other commands (``env``, and those later modules register in :data:`COMMANDS`) are plain
functions that take the remaining arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

import lit_gen
from lit_gen.callbacks import ImageGridCallback
from lit_gen.utils.errors import debug_requested, format_error, user_error

#: lit-gen's own commands: name -> (one-line help, "module:function" taking argv)
COMMANDS: dict[str, tuple[str, str]] = {
    "env": ("print versions and devices, for bug reports", "lit_gen.utils.env:main"),
    "bench": ("benchmark suites: run|plan|report|rescore|compare|list|curves|inspect|agreement",
              "lit_gen.bench.cli:main"),
    "eval": ("FID/KID/IS/precision/recall/density/coverage of an image set", "lit_gen.metrics.cli:main"),
    "couplet": ("write the lower line of a Chinese couplet", "lit_gen.tasks.couplet.cli:main"),
    "lexicon": ("word discovery: build|segment|templates|parse", "lit_gen.tasks.lexicon.cli:main"),
}
TRAINER_COMMANDS = {
    "fit": "train a model (lit-gen fit --config configs/vae.yaml)",
    "validate": "run one validation epoch",
    "test": "run one test epoch (pass --ckpt_path)",
    "predict": "run inference over the data module's predict split",
}


class LitGenCLI(LightningCLI):
    """``LightningCLI`` with lit-gen's defaults: the image-grid callback and seed 0."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        # importing the packages registers their classes, so short names (--model VAE) resolve
        import lit_gen.data  # noqa: F401
        import lit_gen.models  # noqa: F401

        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Always present: it only acts on modules that have sample()/reconstruct().
        parser.add_lightning_class_args(ImageGridCallback, "image_grid")

    def _check_ready(self) -> None:
        """A model's own pre-flight check (``check_ready(stage, ckpt_path)``), so a missing
        setting fails before the data are read and the trainer starts."""
        check = getattr(self.model, "check_ready", None)
        if callable(check):
            check(self.subcommand, self.config[self.subcommand].get("ckpt_path"))

    before_fit = before_validate = before_test = before_predict = _check_ready


def _overview() -> str:
    from lit_gen import data, models

    width = max(len(n) for n in [*TRAINER_COMMANDS, *COMMANDS]) + 2
    lines = [
        f"lit-gen {lit_gen.__version__}: Lightning modules for generative and unsupervised models.",
        "",
        "usage: lit-gen COMMAND [options]     (lit-gen COMMAND --help for a command's options)",
        "       errors are one paragraph; add --debug (or set LIT_GEN_DEBUG=1) for the traceback",
        "",
        "training (Lightning CLI; --config FILE.yaml, --model CLASS, --data CLASS, --trainer.*):",
    ]
    lines += [f"  {name:<{width}}{text}" for name, text in TRAINER_COMMANDS.items()]
    lines += ["", "lit-gen commands:"]
    lines += [f"  {name:<{width}}{text}" for name, (text, _) in COMMANDS.items()]
    lines += ["", "models (--model):  " + ", ".join(models.__all__)]
    lines += ["data (--data):     " + ", ".join(n for n in data.__all__ if n.endswith("DataModule"))]
    configs = Path.cwd() / "configs"
    if configs.is_dir():
        found = sorted(str(p.relative_to(Path.cwd())) for p in configs.rglob("*.yaml"))
        lines += ["configs:           " + ", ".join(found)]
    return "\n".join(lines)


def _load_command(target: str) -> Callable[[Sequence[str]], int | None]:
    import importlib

    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lit-gen`` console script.

    Configuration, validation and data errors print one short paragraph (exit code 2, see
    :mod:`lit_gen.utils.errors`); ``--debug`` or ``LIT_GEN_DEBUG=1`` shows their traceback.
    """
    from_sys = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview())
        return 0
    if argv[0] in ("-V", "--version"):
        print(lit_gen.__version__)
        return 0
    if argv[0] not in COMMANDS and argv[0] not in TRAINER_COMMANDS:
        print(f"lit-gen: unknown command {argv[0]!r}\n\n{_overview()}", file=sys.stderr)
        return 2
    try:
        if argv[0] in COMMANDS:
            return _load_command(COMMANDS[argv[0]][1])(argv[1:]) or 0
        if from_sys:  # without --debug; args=None keeps Lightning from warning about sys.argv
            sys.argv[1:] = argv
        # the parser raises instead of printing its whole usage: the error is reported below
        LitGenCLI(args=None if from_sys else argv, parser_kwargs={"exit_on_error": False})
    except Exception as err:
        reported = None if debug else user_error(err)
        if reported is None:
            raise
        print(format_error(reported, argv[0]), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
