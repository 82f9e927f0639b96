"""Suites: ``benchmarks/suites/<suite>/*.yaml``, each file a YAML list of entries.

One file per model family keeps suites easy to extend without editing a shared file. An entry::

    - name: vae-mnist                  # unique within the suite
      config: configs/vae.yaml         # a `lit-gen fit` config, relative to the repo root
      overrides: {model.latent_dim: 32}   # dotted keys, given to the CLI as --key=value
      budget: {max_epochs: 10}         # max_steps / max_epochs / max_time -> --trainer.*
      seeds: [0, 1, 2]
      metrics: [nelbo, nll]
      metric_options: {nll: {num_samples: 200}}
      reference: {nll: {value: 89.78, source: "pythae, MLP VAE"}}
      curve: {metrics: [fid], every_n_train_steps: 500, n_fake: 1000}   # optional
      restarts: {n: 3, monitor: val/loss, mode: min}                    # optional

An entry may start from another suite's entry instead of repeating it::

    - name: vae-mnist-bf16
      extends: cpu/vae-mnist            # SUITE/ENTRY: all its fields ...
      overrides: {trainer.precision: bf16-mixed}   # ... plus these overrides (merged) and keys

Its ``overrides`` are added to the referenced entry's (same key: this entry's value); any other
key it gives replaces the referenced one. The result is an ordinary entry: its hash is that of
the fields it ends up with, so it never shares results with the entry it extends unless every
field is the same.

A file may also be a mapping: ``defaults`` (fields every entry of the file starts from) and
``entries`` (the list), so that what the entries share is written once::

    defaults:
      budget: {max_epochs: 50}
      seeds: [0, 1, 2]
      metrics: [fid, kid]
      metric_options: {fid: {n_fake: 5000}, kid: {n_fake: 5000}}
    entries:
      - name: gan-sgan-mnist
        config: configs/gan/sgan_mnist.yaml
      - name: gan-sgan-short
        config: configs/gan/sgan_mnist.yaml
        budget: {max_epochs: 5}        # replaces the default budget
        metrics: [fid]                 # only fid's default options apply

An entry's own keys replace the defaults', except ``overrides`` and ``metric_options``, which
are merged (same key or metric: the entry's). An entry receives the default ``metric_options``
only of the metrics it lists. Entries with ``extends`` take their fields from the entry they
extend, not from the defaults. A defaulted entry is the entry spelled out, with the same hash.

``curve`` (generative image models only) adds a
:class:`~lit_gen.callbacks.FidelityCallback` with these arguments to the run; each result then
holds the metric against training time, and the leaderboard picture draws it.

``restarts`` trains each seed ``n`` times (restart ``r`` with seed ``seed + 1000 r``; restart 0 is
the plain run) and keeps the run whose logged ``monitor`` is lowest (``mode: min``) or highest,
as K-Means' ``n_init`` keeps its lowest-inertia start. Only the kept run is measured; the wall
time is that of all ``n``. The monitor must not see labels (a loss, not an accuracy), or the
selection peeks at the answer: the suite loader refuses monitors named after the entry's metrics
or a label score (``LABEL_SCORES``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

BUDGET_KEYS = ("max_steps", "max_epochs", "max_time")
ENTRY_KEYS = {"name", "config", "overrides", "budget", "seeds", "metrics", "metric_options",
              "reference", "description", "curve", "restarts", "extends"}
DEFAULT_KEYS = ENTRY_KEYS - {"name", "extends"}  # what a file's ``defaults`` may give its entries
RESTART_KEYS = ("n", "monitor", "mode")
# the entry fields training depends on (the rest say what is measured afterwards, and how it is shown)
TRAINING_FIELDS = ("config", "overrides", "budget", "curve", "restarts")
# logged scores that use labels: choosing restarts by one of them would report the best of n
# draws as the method's result
LABEL_SCORES = ("acc", "accuracy", "purity", "nmi", "ari", "error", "test_error", "test_error_at_mu")
# in a suite folder but not entries: the rows of the suite's headline table (lit_gen.bench.report)
HEADLINE_FILE = "headline.yaml"
# in a suite folder but not entries: the decision rules and targets (lit_gen.bench.verdicts)
VERDICTS_FILE = "verdicts.yaml"


class SuiteError(ValueError):
    """A suite file is missing or malformed; the message names the file and the entry."""


@dataclass
class Entry:
    """One row of a leaderboard: a config trained under a budget, then measured."""

    name: str
    config: str
    metrics: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    overrides: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: dict[str, dict[str, Any]] | None = None
    description: str = ""
    source_file: str = ""
    curve: dict[str, Any] | None = None
    restarts: dict[str, Any] | None = None

    def restricted_to(self, metrics: Iterable[str]) -> Entry:
        """This entry with only those of its metrics that are in ``metrics`` (and their options):
        what a run measured when the entry gained metrics after it. A result whose
        ``config_hash`` is that of ``entry.restricted_to(result's metrics)`` was trained and
        measured exactly as the entry says, for the metrics it has."""
        kept = [m for m in self.metrics if m in set(metrics)]
        return replace(self, metrics=kept, metric_options={k: v for k, v in self.metric_options.items() if k in kept})

    def cli_args(self, root: Path, seed: int) -> list[str]:
        """Arguments for ``LitGenCLI``: config, overrides, budget and seed."""
        args = ["--config", str(root / self.config)]
        args += [f"--{key}={_cli_value(value)}" for key, value in self.overrides.items()]
        args += [f"--trainer.{key}={_cli_value(value)}" for key, value in self.budget.items()]
        args += [f"--seed_everything={seed}"]
        return args

    def config_hash(self, root: Path, seed: int, devices: int) -> str:
        """Hash of everything that defines the run: entry fields, the config file's text, seed
        and devices. A result whose hash differs is stale and is recomputed."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("reference", "description", "source_file")}
        for optional in ("curve", "restarts"):  # entries without one keep the hashes they had before it existed
            if payload[optional] is None:
                del payload[optional]
        return self._digest(payload, root, seed, devices)

    def training_hash(self, root: Path, seed: int, devices: int) -> str:
        """Hash of what the training of one seed depends on: the config file's text, overrides,
        budget, curve, restarts, seed and devices, but not the metrics measured after training
        nor the entry's list of seeds. Checkpoints of an interrupted fit are stamped with it, so
        giving an entry another metric or seed keeps the training in progress."""
        payload = {k: getattr(self, k) for k in TRAINING_FIELDS if getattr(self, k) is not None}
        return self._digest(payload, root, seed, devices)

    def _digest(self, payload: dict[str, Any], root: Path, seed: int, devices: int) -> str:
        """16 hex digits of ``payload`` with the seed, the devices and the config file's text."""
        payload = {**payload, "seed": seed, "devices": devices, "config_text": (root / self.config).read_text()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cli_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _restarts(raw: Any, metrics: list[str], where: str) -> dict[str, Any] | None:
    """``restarts`` checked and completed (``mode`` defaults to ``min``), or None."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - set(RESTART_KEYS) or not {"n", "monitor"} <= set(raw):
        raise SuiteError(f"{where}: restarts must be a mapping with n, monitor and optionally mode, got {raw!r}")
    n, monitor, mode = raw["n"], raw["monitor"], raw.get("mode", "min")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise SuiteError(f"{where}: restarts.n must be an integer >= 2, got {n!r}")
    if mode not in ("min", "max"):
        raise SuiteError(f"{where}: restarts.mode must be 'min' or 'max', got {mode!r}")
    if not isinstance(monitor, str) or not monitor:
        raise SuiteError(f"{where}: restarts.monitor must be the name of a logged metric, got {monitor!r}")
    leaf = monitor.rsplit("/", 1)[-1]
    if leaf in (*metrics, *LABEL_SCORES):
        raise SuiteError(f"{where}: restarts.monitor {monitor!r} is a measured or label-using score; choosing "
                         "restarts by it reports the best of n draws, not the method (monitor a loss)")
    return {"n": n, "monitor": monitor, "mode": mode}


def _extended(raw: dict[str, Any], where: str, root: Path, loading: tuple[str, ...]) -> dict[str, Any]:
    """``raw`` with the fields of the entry its ``extends: SUITE/ENTRY`` names filled in."""
    target = raw["extends"]
    suite, _, name = str(target).partition("/")
    if not suite or not name:
        raise SuiteError(f"{where}: extends must be SUITE/ENTRY, got {target!r}")
    if suite in loading:
        raise SuiteError(f"{where}: extends {target!r} goes round in a circle ({' -> '.join(loading)})")
    base = {e.name: e for e in load_suite(suite, root, loading)}.get(name)
    if base is None:
        raise SuiteError(f"{where}: extends {target!r}, but suite '{suite}' has no entry '{name}'")
    fields = {k: v for k, v in asdict(base).items() if k not in ("name", "source_file") and v is not None}
    own = {k: v for k, v in raw.items() if k != "extends"}
    return {**fields, **own, "overrides": {**base.overrides, **(own.get("overrides") or {})}}


def _file_entries(raw: Any, path: Path) -> list[Any]:
    """The raw entries of a suite file (a list, or a mapping of ``defaults`` and ``entries``),
    each with the file's defaults filled in."""
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, dict) or set(raw) != {"defaults", "entries"} or not isinstance(raw["entries"], list):
        raise SuiteError(f"{path} must hold a YAML list of entries, or a mapping of 'defaults' and 'entries' (a list)")
    defaults = raw["defaults"] or {}
    if not isinstance(defaults, dict) or set(defaults) - DEFAULT_KEYS:
        raise SuiteError(f"{path}: defaults must be a mapping of entry keys among {sorted(DEFAULT_KEYS)}, "
                         f"got {defaults!r}")
    return [_with_defaults(item, defaults) for item in raw["entries"]]


def _with_defaults(raw: Any, defaults: dict[str, Any]) -> Any:
    """``raw`` with the keys it lacks taken from ``defaults``; ``overrides`` merged, and the
    default ``metric_options`` of the metrics ``raw`` ends up listing merged under its own."""
    if not isinstance(raw, dict) or "extends" in raw:
        return raw  # errors are _entry's to report; an extending entry starts from its base
    merged = {**copy.deepcopy(defaults), **raw}
    merged["overrides"] = {**(defaults.get("overrides") or {}), **(raw.get("overrides") or {})}
    metrics = merged.get("metrics") or []
    metrics = [metrics] if isinstance(metrics, str) else metrics
    shared = {m: v for m, v in (defaults.get("metric_options") or {}).items() if m in metrics}
    merged["metric_options"] = copy.deepcopy({**shared, **(raw.get("metric_options") or {})})
    return merged


def _entry(raw: Any, path: Path, root: Path, loading: tuple[str, ...] = ()) -> Entry:
    where = f"{path}: entry {raw.get('name', '?') if isinstance(raw, dict) else raw!r}"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where} is not a mapping")
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(ENTRY_KEYS)})")
    if "extends" in raw:
        raw = _extended(raw, where, root, loading)
    for key in ("name", "config", "metrics"):
        if key not in raw:
            raise SuiteError(f"{where}: missing '{key}'")
    if not (root / raw["config"]).is_file():
        raise SuiteError(f"{where}: config file {raw['config']} does not exist under {root}")
    budget = raw.get("budget") or {}
    if set(budget) - set(BUDGET_KEYS):
        raise SuiteError(f"{where}: budget keys must be among {BUDGET_KEYS}, got {sorted(budget)}")
    seeds = raw.get("seeds", [0])
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise SuiteError(f"{where}: seeds must be a non-empty list of integers")
    curve = raw.get("curve")
    if curve is not None and not isinstance(curve, dict):
        raise SuiteError(f"{where}: curve must be a mapping of FidelityCallback arguments, got {curve!r}")
    metrics = raw["metrics"]
    if isinstance(metrics, str):
        metrics = [metrics]
    restarts = _restarts(raw.get("restarts"), list(metrics), where)
    return Entry(name=str(raw["name"]), config=str(raw["config"]), metrics=list(metrics), seeds=list(seeds),
                 overrides=dict(raw.get("overrides") or {}), budget=dict(budget),
                 metric_options=dict(raw.get("metric_options") or {}), reference=raw.get("reference"),
                 description=str(raw.get("description", "")), curve=curve, restarts=restarts,
                 source_file=str(path.relative_to(root)) if path.is_relative_to(root) else str(path))


def suites_dir(root: Path) -> Path:
    return root / "benchmarks" / "suites"


def available_suites(root: Path) -> list[str]:
    folder = suites_dir(root)
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def load_suite(name_or_path: str, root: Path, loading: tuple[str, ...] = ()) -> list[Entry]:
    """Entries of a suite, given by name (``benchmarks/suites/<name>/``) or as a folder/file path.
    (``loading``: the suites whose loading led here, to refuse ``extends`` in a circle.)"""
    candidate = Path(name_or_path)
    folder = candidate if candidate.exists() else suites_dir(root) / name_or_path
    if not folder.exists():
        raise SuiteError(f"no suite '{name_or_path}': {folder} does not exist; known suites: "
                         f"{', '.join(available_suites(root)) or 'none'}")
    files = (sorted(p for p in folder.glob("*.yaml") if p.name not in (HEADLINE_FILE, VERDICTS_FILE))
             if folder.is_dir() else [folder])
    entries: list[Entry] = []
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise SuiteError(f"{path} is not valid YAML: {err}") from None
        if raw is None:
            continue
        entries += [_entry(item, path.resolve(), root.resolve(), (*loading, Path(name_or_path).name))
                    for item in _file_entries(raw, path)]
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"suite '{name_or_path}' has duplicate entry names: {duplicates}")
    if folder.is_dir():  # a bad verdicts.yaml fails here, before any run, not in the report after one
        from lit_gen.bench.verdicts import load_verdicts  # it imports this module

        load_verdicts(folder / VERDICTS_FILE, set(names))
    return entries
