"""Registry of benchmark metrics: the names a suite entry lists under ``metrics:``.

A metric is a function ``fn(model, datamodule, trainer, **options) -> MetricResult`` called
after training, on the trained module. ``options`` come from the entry's ``metric_options``
(``{metric_name: {option: value}}``). It returns the values (one metric may give several,
e.g. ``seg_f1`` gives ``P``, ``R``, ``F1``) and the protocol used (sample counts, extractor,
split...), which the harness stores beside the values in every result file.

Register one with the decorator::

    from lit_gen.bench.registry import MetricResult, register_metric

    @register_metric("my_metric")
    def my_metric(model, datamodule, trainer, split="test"):
        ...
        return MetricResult({"my_metric": value}, {"split": split})

Modules that register metrics are listed in :data:`METRIC_MODULES` so the harness can import
them lazily (importing torch-fidelity for a lexicon suite would be wasted time).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetricResult:
    """``values``: metric name -> float; ``protocol``: how it was measured (JSON-serialisable)."""

    values: dict[str, float]
    protocol: dict[str, Any] = field(default_factory=dict)


MetricFn = Callable[..., MetricResult]
_METRICS: dict[str, MetricFn] = {}

#: modules whose import registers metrics; extended as model families land
METRIC_MODULES: list[str] = [
    "lit_gen.bench.metrics",
    "lit_gen.tasks.lexicon.bench",
    "lit_gen.tasks.couplet.bench",
]


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator: make ``fn`` available to suites as ``name``."""

    def decorate(fn: MetricFn) -> MetricFn:
        if name in _METRICS and _METRICS[name] is not fn:
            raise ValueError(f"benchmark metric {name!r} is registered twice")
        _METRICS[name] = fn
        return fn

    return decorate


def _import_all() -> None:
    for module in METRIC_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):
                raise  # a real missing dependency inside the module, not an absent module


def get_metric(name: str) -> MetricFn:
    """The metric function registered as ``name``; a clear error listing the known ones."""
    if name not in _METRICS:
        _import_all()
    if name not in _METRICS:
        raise KeyError(f"unknown benchmark metric {name!r}; known: {', '.join(sorted(available_metrics()))}")
    return _METRICS[name]


def available_metrics() -> list[str]:
    _import_all()
    return sorted(_METRICS)
