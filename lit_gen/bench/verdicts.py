"""Verdicts: a suite's decision rules, written down before its runs, applied to its results.

A suite folder may hold ``verdicts.yaml`` beside its entry files (the suite loader skips it, so
no entry's configuration hash depends on it): a list of questions, each with the date its rule
was written and one of three kinds of test.

``paired``: entry ``a`` against entry ``b`` on ``metric``, seeds paired (as ``lit-gen bench
compare`` pairs them). ``rule`` is a list of clauses tried in order; the first whose conditions
all hold gives the outcome, and the last clause usually has none::

    - id: gan-long-1
      question: GAN-QP vs WGAN-GP, MNIST, common protocol, 20,000 G steps
      written: 2026-12-07
      paired: {a: gan-gan-qp-mnist-long, b: gan-wgan-gp-mnist-long, metric: "fid[classifier]"}
      rule:
        - {outcome: better, r_at_most: 0.90, a_lower_on_at_least: 3}
        - {outcome: not worse, r_at_most: 1.10}
        - {outcome: worse, r_above: 1.10, a_higher_on_at_least: 2}
        - {outcome: inconclusive at 3 seeds}

with r = mean(A) / mean(B) over the paired seeds. Conditions: ``r_at_most``, ``r_below``,
``r_above``, ``a_lower_on_at_least``, ``a_higher_on_at_least`` (counts of seeds).

``threshold``: the mean of ``metric`` over the seeds of each of ``entries`` against ``at_least``
or ``at_most`` (a target): outcome "met" or "not met" per entry.

``rises``: the means of ``metrics`` of ``entry`` (in the order given) strictly increase.

Every kind waits until all of its ``seeds`` (default 0, 1, 2) have results made under the entries'
current configurations; until then the outcome says which are missing. ``lit-gen bench report``
renders ``verdicts.md`` from it, so the docs quote outcomes from a generated table.
"""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import yaml

from lit_gen.bench.compare import extractor_weights
from lit_gen.bench.results import fmt
from lit_gen.bench.suite import VERDICTS_FILE, Entry, SuiteError

CONDITIONS = ("r_at_most", "r_below", "r_above", "a_lower_on_at_least", "a_higher_on_at_least")
KINDS = ("paired", "threshold", "rises")
COMMON_KEYS = {"id", "question", "written", "seeds", "note"}


def load_verdicts(path: Path, entry_names: set[str] | None) -> list[dict[str, Any]]:
    """The questions of a ``verdicts.yaml``, checked: their form, their rules and (given the
    suite's ``entry_names``) the entries they name. ``[]`` when the file does not exist."""
    if not path.is_file():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as err:
        raise SuiteError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(raw, list):
        raise SuiteError(f"{path} must hold a YAML list of questions")
    ids = set()
    for i, item in enumerate(raw):
        where = f"{path}: question {i + 1}"
        if not isinstance(item, dict) or not {"id", "question", "written"} <= set(item):
            raise SuiteError(f"{where} must be a mapping with id, question and written (the rule's date)")
        where = f"{path}: question '{item['id']}'"
        if item["id"] in ids:
            raise SuiteError(f"{where} appears twice")
        ids.add(item["id"])
        kinds = [k for k in KINDS if k in item]
        if len(kinds) != 1:
            raise SuiteError(f"{where} needs exactly one of {KINDS}, got {kinds or 'none'}")
        unknown = set(item) - COMMON_KEYS - {*KINDS, "rule"}
        if unknown:
            raise SuiteError(f"{where}: unknown keys {sorted(unknown)}")
        seeds = item.setdefault("seeds", [0, 1, 2])
        if not (isinstance(seeds, list) and seeds and all(_is_int(s) for s in seeds) and len(set(seeds)) == len(seeds)):
            raise SuiteError(f"{where}: seeds must be a non-empty list of distinct integers, got {seeds!r}")
        _check_test(kinds[0], item[kinds[0]], where)
        missing = [n for n in named_entries(item) if entry_names is not None and n not in entry_names]
        if missing:
            raise SuiteError(f"{where} names entries the suite does not have: {missing}")
        if kinds[0] == "paired":
            _check_rule(item.get("rule"), where)
        elif "rule" in item:
            raise SuiteError(f"{where}: only a paired question has a rule")
    return raw


def named_entries(item: dict[str, Any]) -> list[str]:
    """The entries a (checked) question reads."""
    test = item.get("paired") or item.get("threshold") or item.get("rises")
    return [test["a"], test["b"]] if "paired" in item else test["entries"] if "threshold" in item else [test["entry"]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_test(kind: str, test: Any, where: str) -> None:
    """A clear error unless a question's test has its kind's form."""
    forms = {"paired": "{a: ENTRY, b: ENTRY, metric: NAME}",
             "threshold": "{entries: [ENTRY, ...], metric: NAME, at_least|at_most: NUMBER}",
             "rises": "{entry: ENTRY, metrics: [NAME, NAME, ...]}"}
    if kind == "paired":
        ok = isinstance(test, dict) and set(test) == {"a", "b", "metric"} and all(isinstance(v, str) for v in test.values())
    elif kind == "threshold":
        bounds = {"at_least", "at_most"} & set(test) if isinstance(test, dict) else set()
        ok = (isinstance(test, dict) and len(bounds) == 1 and set(test) == {"entries", "metric", *bounds}
              and isinstance(test["metric"], str) and _is_number(test[next(iter(bounds))])
              and isinstance(test["entries"], list) and test["entries"] and all(isinstance(e, str) for e in test["entries"]))
    else:
        ok = (isinstance(test, dict) and set(test) == {"entry", "metrics"} and isinstance(test["entry"], str)
              and isinstance(test["metrics"], list) and len(test["metrics"]) >= 2
              and all(isinstance(m, str) for m in test["metrics"]))
    if not ok:
        raise SuiteError(f"{where}: {kind} must be {forms[kind]}, got {test!r}")


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, list) or not rule:
        raise SuiteError(f"{where}: a paired question needs a rule: a list of clauses")
    for clause in rule:
        if not isinstance(clause, dict) or not isinstance(clause.get("outcome"), str):
            raise SuiteError(f"{where}: every clause needs an outcome (text), got {clause!r}")
        unknown = set(clause) - {"outcome", *CONDITIONS}
        if unknown:
            raise SuiteError(f"{where}: unknown conditions {sorted(unknown)} (known: {CONDITIONS})")
        for key, value in clause.items():
            if key.startswith("r_") and not _is_number(value) or key.startswith("a_") and not _is_int(value):
                raise SuiteError(f"{where}: {key} must be a {'number' if key.startswith('r_') else 'count'}, "
                                 f"got {value!r}")


def _seed_means(results: dict[str, list[dict[str, Any]]], entry: str, metric: str,
                seeds: list[int]) -> tuple[dict[int, float], list[str]]:
    """Seed → value of ``metric`` for the wanted seeds, and the wanted seeds without a finite
    value (as text: ``"2"``, or ``"1 (nan)"`` for a run whose value is not a finite number)."""
    values, broken = {}, {}
    for result in results.get(entry, []):
        seed, value = int(result["seed"]), result["metrics"].get(metric)
        if seed in seeds and value is not None:
            if math.isfinite(value):
                values[seed] = float(value)
            else:
                broken[seed] = value
    return values, [f"{s} ({broken[s]})" if s in broken else str(s) for s in seeds if s not in values]


def _holds(clause: dict[str, Any], r: float, lower: int, higher: int) -> bool:
    checks = {"r_at_most": lambda v: r <= v, "r_below": lambda v: r < v, "r_above": lambda v: r > v,
              "a_lower_on_at_least": lambda v: lower >= v, "a_higher_on_at_least": lambda v: higher >= v}
    return all(checks[key](value) for key, value in clause.items() if key != "outcome")


def decide(item: dict[str, Any], results: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """One question against the results: ``{"test", "measured", "outcome"}`` (text)."""
    seeds = item["seeds"]
    if "paired" in item:
        p = item["paired"]
        a, missing_a = _seed_means(results, p["a"], p["metric"], seeds)
        b, missing_b = _seed_means(results, p["b"], p["metric"], seeds)
        test = f"`{p['a']}` vs `{p['b']}`, {p['metric']}"
        if missing_a or missing_b:
            waiting = [_have(e, v, m) for e, v, m in ((p["a"], a, missing_a), (p["b"], b, missing_b)) if m]
            return {"test": test, "measured": "; ".join(waiting), "outcome": "waiting for seeds"}
        used = {(e, s): w for e in (p["a"], p["b"])
                for s, w in extractor_weights(results, e, p["metric"]).items() if s in seeds}
        if len(set(used.values())) > 1:  # FIDs on different features are on different scales
            return {"test": test, "measured": "; ".join(f"`{e}` seed {s}: {w}" for (e, s), w in sorted(used.items())),
                    "outcome": "not comparable: different feature extractor weights"}
        mean_a, mean_b = statistics.fmean(a.values()), statistics.fmean(b.values())
        if mean_b == 0:
            return {"test": test, "measured": f"{fmt(mean_a)} vs {fmt(mean_b)}", "outcome": "no ratio: mean(B) is 0"}
        r = mean_a / mean_b
        lower = sum(a[s] < b[s] for s in seeds)
        higher = sum(a[s] > b[s] for s in seeds)
        outcome = next((c["outcome"] for c in item["rule"] if _holds(c, r, lower, higher)), "no clause holds")
        return {"test": test, "outcome": outcome,
                "measured": f"{fmt(mean_a)} vs {fmt(mean_b)}, r = {r:.3f}, A lower on {lower} of {len(seeds)}"}
    if "threshold" in item:
        t = item["threshold"]
        bound, sign = (t["at_least"], "≥") if "at_least" in t else (t["at_most"], "≤")
        measured, outcomes = [], []
        for entry in t["entries"]:
            values, missing = _seed_means(results, entry, t["metric"], seeds)
            if missing:
                measured.append(_have(entry, values, missing))
                outcomes.append("waiting for seeds")
                continue
            mean = statistics.fmean(values.values())
            measured.append(f"`{entry}` {fmt(mean)}")
            outcomes.append("met" if (mean >= bound if sign == "≥" else mean <= bound) else "not met")
        outcome = outcomes[0] if len(set(outcomes)) == 1 else ", ".join(outcomes)
        return {"test": f"mean {t['metric']} {sign} {bound:g}", "measured": "; ".join(measured), "outcome": outcome}
    s = item["rises"]
    test = f"`{s['entry']}`: " + " < ".join(s["metrics"])
    if not results.get(s["entry"]):
        return {"test": test, "measured": f"`{s['entry']}`: no run yet", "outcome": "waiting for seeds"}
    means, waiting = [], []
    for metric in s["metrics"]:
        values, missing = _seed_means(results, s["entry"], metric, seeds)
        if missing:
            waiting.append(f"{metric} (seeds {', '.join(missing)})")
        else:
            means.append(statistics.fmean(values.values()))
    if waiting:
        return {"test": test, "measured": "missing: " + ", ".join(waiting), "outcome": "waiting for seeds"}
    rises = all(x < y for x, y in itertools.pairwise(means))
    return {"test": test, "measured": " → ".join(fmt(m) for m in means), "outcome": "met" if rises else "not met"}


def _have(entry: str, values: dict[int, float], missing: list[str]) -> str:
    if not values and not any("(" in m for m in missing):
        return f"`{entry}`: no run yet"
    return f"`{entry}` lacks seed{'s' if len(missing) > 1 else ''} {', '.join(missing)}"


def rule_text(item: dict[str, Any]) -> str:
    """A paired question's rule in words, from its clauses ("" for the other kinds)."""
    if "paired" not in item:
        return ""
    words = {"r_at_most": "r ≤ {:g}", "r_below": "r < {:g}", "r_above": "r > {:g}",
             "a_lower_on_at_least": "A lower on ≥ {} seeds", "a_higher_on_at_least": "A higher on ≥ {} seeds"}
    parts = []
    for clause in item["rule"]:
        conditions = " and ".join(words[k].format(v) for k, v in clause.items() if k != "outcome")
        parts.append(f"\"{clause['outcome']}\"" + (f" if {conditions}" if conditions else " otherwise"))
    return "; ".join(parts)


def render_verdicts(items: list[dict[str, Any]], results: dict[str, list[dict[str, Any]]], suite: str) -> str:
    """``verdicts.md``: one row per question with its outcome; the paired rules, each written
    once, below the table."""
    rules: dict[str, str] = {}  # rule text -> its label
    lines = [f"# Verdicts: suite `{suite}`", "",
             ("Each question carries the date its rule was written and says when that came after some of "
             "its runs (`verdicts.yaml` beside the suite's entry files). Paired questions compare entry A with "
             "entry B seed by seed; r = mean(A) / mean(B); lower is better for FID and error. Rendered by "
             "`lit-gen bench report` from the results that match the entries' current configurations."), "",
             "| question | written | test (seeds) | rule | measured | outcome |", "|---|---|---|---|---|---|"]
    for item in items:
        decided = decide(item, results)
        text = rule_text(item)
        label = rules.setdefault(text, f"R{len(rules) + 1}") if text else "target"
        lines.append(f"| {item['question']} | {item['written']} | {decided['test']} "
                     f"({', '.join(map(str, item['seeds']))}) | {label} | {decided['measured']} | "
                     f"**{decided['outcome']}** |")
    lines += ["", "Rules (the first clause that holds gives the outcome):", ""]
    lines += [f"- {label}: {text}." for text, label in rules.items()]
    notes = [f"- `{item['id']}`: {item['note']}" for item in items if item.get("note")]
    return "\n".join(lines + (["", "Notes:", "", *notes] if notes else [])) + "\n"


def verdicts_spec(entries: list[Entry], root: Path) -> list[dict[str, Any]]:
    """The questions of the suite's ``verdicts.yaml`` (beside its entry files) whose entries are
    all among ``entries`` (a suite loaded from one of its files has only that file's), or ``[]``."""
    if not entries:
        return []
    names = {e.name for e in entries}
    questions = load_verdicts((root / entries[0].source_file).parent / VERDICTS_FILE, None)
    return [q for q in questions if set(named_entries(q)) <= names]
