"""Read back the scalars a bench run logged, from its TensorBoard event files.

A bench run that was interrupted and resumed logs each piece to its own
``lightning_logs/version_N`` folder; :func:`logged_scalars` joins them into one curve per tag.
The bench itself never reads these curves (results come from the test split); they are for
looking at a run afterwards (``lit-gen bench curves``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def logged_scalars(run_dir: str | Path, tags: Iterable[str]) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` in step order, from every event file under ``run_dir``
    (searched recursively), oldest file first. Where two pieces logged the same step (a resumed
    run repeats the epoch it was interrupted in), the later file wins. A file whose first point
    of a tag is at or before the first point gathered so far is a run that started again from
    scratch, not a continuation, so the older points of that tag are dropped (otherwise the
    fresh run's curve would be continued by the abandoned one's later points). Tags never
    logged map to ``[]``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = list(tags)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run folder {run_dir}")
    merged: dict[str, dict[int, float]] = {tag: {} for tag in tags}
    files = sorted(run_dir.rglob("events.out.tfevents*"), key=lambda f: (f.stat().st_mtime, str(f)))
    for events in files:
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})  # 0: keep every point
        accumulator.Reload()
        available = set(accumulator.Tags()["scalars"])
        for tag in tags:
            if tag not in available:
                continue
            points = [(event.step, event.value) for event in accumulator.Scalars(tag)]
            if points and merged[tag] and min(step for step, _ in points) <= min(merged[tag]):
                merged[tag].clear()  # this file restarts the run from its beginning
            merged[tag].update(points)
    return {tag: sorted(points.items()) for tag, points in merged.items()}
