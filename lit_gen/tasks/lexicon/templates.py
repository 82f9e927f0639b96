"""Sentence templates (最小熵原理(三)): skip-gram word pairs linked into paths, and parsing.

1. Segment the text into words; a *sentence* is a run of words between punctuation.
2. Count word pairs ``(a, b)`` with ``b`` at most ``window`` words after ``a`` (skip-grams,
   vectorised over word ids). A pair is *strong* when it occurs ``>= min_count`` times and
   ``PMI(a, b) = log p_ab / (p_a p_b) > min_pmi`` (``p_ab`` per pair slot, ``p_a`` per word).
3. In each sentence the strong pairs form a DAG over word positions; every path of 2 to
   ``max_words`` words is a template, with ``X`` wherever the path skips words: the path
   从→到 over 从 北京 到 上海 is ``从 X 到`` (a template never starts or ends with X).
4. Count templates, keep those seen ``>= min_count`` times.

``style='author'`` follows ``Template_Finder`` of the author's nlp-zero instead (its defaults:
``window`` 5, ``min_pmi`` 2, ``min_proba`` 1e-5): a pair is strong when ``p_ab > min_proba``
(per pair slot) and ``PMI > min_pmi``; each sentence gives only its *complete* paths, from a word
no strong pair reaches to one with no strong pair onward (a word alone included), of any length;
a path not starting at the first word of the sentence starts with ``X``, one not ending at the
last word ends with ``X``; templates are kept when their share of all counted templates exceeds
``min_proba``. (nlp-zero cuts sentences at every character that is not a Han character, a digit
or a Latin letter; here sentences end at punctuation words.)

Parsing covers a sentence with nested templates: a span is a sequence of units, a unit is a
word or a template whose fixed words match and whose ``X`` gaps hold (recursively parsed)
non-empty spans; the parse maximises ``Σ log p(unit)`` with words and templates sharing one
distribution (counts / total). Trees print as ``[从 {北京} 到 {上海}]``: brackets mark a
template, braces the content of one of its gaps.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from lit_gen.tasks.lexicon.text import atomize
from lit_gen.utils.io import atomic_write_text

GAP = "X"
#: ``count_templates`` styles: ours, or the author's nlp-zero ``Template_Finder``
STYLES = ("ours", "author")


def sentences(words_per_line: Sequence[Sequence[str]]) -> list[list[str]]:
    """Runs of words between punctuation words (words made of hard atoms, see :mod:`.text`)."""
    out: list[list[str]] = []
    is_punct: dict[str, bool] = {}
    for words in words_per_line:
        cur: list[str] = []
        for w in words:
            if w not in is_punct:
                is_punct[w] = bool(atomize(w).hard.all())
            if is_punct[w]:
                if cur:
                    out.append(cur)
                cur = []
            else:
                cur.append(w)
        if cur:
            out.append(cur)
    return out


def strong_pairs(sents: list[list[str]], window: int, min_count: int, min_pmi: float,
                 min_proba: float | None = None) -> tuple[dict[str, int], set[tuple[int, int]]]:
    """Word ids and the id pairs that co-occur within ``window`` often (``>= min_count`` times, or
    with ``min_proba``: more than that share of all pair slots) and above ``min_pmi``."""
    vocab: dict[str, int] = {}
    ids = np.array([vocab.setdefault(w, len(vocab)) for s in sents for w in s], dtype=np.int64)
    sent = np.repeat(np.arange(len(sents)), [len(s) for s in sents])
    word_counts = np.bincount(ids, minlength=len(vocab)).astype(np.float64)
    keys = []
    for d in range(1, window + 1):
        same = sent[d:] == sent[:-d]
        keys.append(ids[:-d][same] * len(vocab) + ids[d:][same])
    keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    uniq, counts = np.unique(keys, return_counts=True)
    a, b = uniq // len(vocab), uniq % len(vocab)
    pmi = np.log(counts / len(keys)) - np.log(word_counts[a] / len(ids)) - np.log(word_counts[b] / len(ids))
    frequent = counts >= min_count if min_proba is None else counts / max(len(keys), 1) > min_proba
    keep = frequent & (pmi > min_pmi)
    return vocab, set(zip(a[keep].tolist(), b[keep].tolist()))


def sentence_templates(words: list[str], ids: list[int], strong: set, window: int, max_words: int) -> list[str]:
    """All templates (paths of the strong-pair DAG) of one sentence."""
    n = len(words)
    succ = [[j for j in range(i + 1, min(n, i + window + 1)) if (ids[i], ids[j]) in strong] for i in range(n)]
    out = []

    def walk(path: list[int]) -> None:
        if len(path) >= 2:
            out.append(render_path(words, path))
        if len(path) < max_words:
            for j in succ[path[-1]]:
                walk(path + [j])

    for i in range(n):
        if succ[i]:
            walk([i])
    return out


def complete_paths(words: list[str], ids: list[int], strong: set, window: int) -> list[str]:
    """The author's templates of one sentence: every path of the strong-pair DAG from a word no
    edge reaches to a word no edge leaves, ``X`` for skipped words and at open ends."""
    n = len(words)
    succ = [[j for j in range(i + 1, min(n, i + window + 1)) if (ids[i], ids[j]) in strong] for i in range(n)]
    reached = {j for targets in succ for j in targets}
    out = []

    def walk(path: list[int]) -> None:
        if not succ[path[-1]]:
            body = render_path(words, path)
            out.append((f"{GAP} " if path[0] > 0 else "") + body + (f" {GAP}" if path[-1] < n - 1 else ""))
        for j in succ[path[-1]]:
            walk(path + [j])

    for i in range(n):
        if i not in reached:
            walk([i])
    return out


def render_path(words: list[str], path: list[int]) -> str:
    parts = [words[path[0]]]
    for prev, cur in zip(path, path[1:]):
        if cur > prev + 1:
            parts.append(GAP)
        parts.append(words[cur])
    return " ".join(parts)


def count_templates(words_per_line: Sequence[Sequence[str]], window: int = 4, min_count: int = 20,
                    min_pmi: float = 1.0, max_words: int = 4, style: str = "ours",
                    min_proba: float = 1e-5) -> Counter:
    """Template counts (see the module docstring). ``style='ours'``: paths of 2..``max_words``
    words, templates seen ``>= min_count`` times; ``'author'``: complete paths, ``min_proba``
    instead of ``min_count``, no length limit."""
    if style not in STYLES:
        raise ValueError(f"template style must be one of {STYLES}, got {style!r}")
    sents = sentences(words_per_line)
    if not sents:
        raise ValueError("no sentences to count templates in (empty or punctuation-only text)")
    if style == "author":
        vocab, strong = strong_pairs(sents, window, 1, min_pmi, min_proba)
        counts: Counter = Counter()
        for s in sents:
            counts.update(complete_paths(s, [vocab[w] for w in s], strong, window))
        total = sum(counts.values())
        return Counter({t: c for t, c in counts.items() if c / total > min_proba})
    vocab, strong = strong_pairs(sents, window, min_count, min_pmi)
    counts: Counter = Counter()
    for s in sents:
        counts.update(sentence_templates(s, [vocab[w] for w in s], strong, window, max_words))
    return Counter({t: c for t, c in counts.items() if c >= min_count})


class TemplateParser:
    """Parses sentences (lists of words) with templates and word counts, see the module doc."""

    def __init__(self, templates: dict[str, int], word_counts: dict[str, int]):
        total = float(sum(templates.values()) + sum(word_counts.values()))
        self.word_logp = {w: math.log(c / total) for w, c in word_counts.items()}
        self.unknown = math.log(0.5 / total)
        self.by_first: dict[str, list[tuple[list[str], float]]] = {}
        for t, c in templates.items():
            parts = t.split(" ")
            self.by_first.setdefault(parts[0], []).append((parts, math.log(c / total)))

    def parse(self, words: Sequence[str]) -> str:
        words = tuple(words)

        @lru_cache(maxsize=None)
        def sequence(a: int, b: int) -> tuple[float, tuple]:
            """Best cover of words[a:b] by a sequence of units."""
            if a == b:
                return 0.0, ()
            best = (-math.inf, ())
            for end in range(a + 1, b + 1):
                u_score, u_tree = unit(a, end)
                if u_score == -math.inf:
                    continue
                r_score, r_tree = sequence(end, b)
                if u_score + r_score > best[0]:
                    best = (u_score + r_score, (u_tree,) + r_tree)
            return best

        @lru_cache(maxsize=None)
        def unit(a: int, b: int) -> tuple[float, object]:
            """Best single unit covering exactly words[a:b]: a word or a template instance."""
            best: tuple[float, object] = (-math.inf, None)
            if b == a + 1:
                best = (self.word_logp.get(words[a], self.unknown), words[a])
            for parts, logp in self.by_first.get(words[a], ()):
                for score, tree in match(parts, 1, a + 1, b):
                    if logp + score > best[0]:
                        best = (logp + score, ("T", (words[a],) + tree))
            for parts, logp in self.by_first.get(GAP, ()):  # author-style: X at the start
                for score, tree in match(parts, 0, a, b):
                    if logp + score > best[0]:
                        best = (logp + score, ("T", tree))
            return best

        def match(parts: list[str], k: int, pos: int, b: int):
            """Ways to match parts[k:] against words[pos:b] exactly: (score of gaps, pieces)."""
            if k == len(parts):
                if pos == b:
                    yield 0.0, ()
                return
            if parts[k] == GAP:
                # leave one word for each fixed word still to match (a trailing X may reach b);
                # a leading X then never spans the whole unit, so the recursion shrinks
                need = sum(p != GAP for p in parts[k + 1:])
                for end in range(pos + 1, b - need + 1):
                    g_score, g_tree = sequence(pos, end)
                    for rest_score, rest in match(parts, k + 1, end, b):
                        yield g_score + rest_score, (("G", g_tree),) + rest
            elif pos < b and words[pos] == parts[k]:
                for rest_score, rest in match(parts, k + 1, pos + 1, b):
                    yield rest_score, (parts[k],) + rest

        return " ".join(_render(u) for u in sequence(0, len(words))[1])


def _render(node) -> str:
    if isinstance(node, str):
        return node
    kind, body = node
    if kind == "G":
        return "{" + " ".join(_render(u) for u in body) + "}"
    return "[" + " ".join(_render(u) for u in body) + "]"


def run_command(args) -> dict:
    """``lit-gen lexicon templates|parse`` (see :mod:`.cli`)."""
    from lit_gen.tasks.lexicon.io import raw_of, read_lines
    from lit_gen.tasks.lexicon.lexicon import Lexicon

    lexicon = Lexicon.load(args.lexicon)
    keep = args.command == "parse"  # one tree line per input line, blank lines too
    lines = [ln for path in args.input
             for ln in raw_of(read_lines(path, args.format, args.encoding, keep_blank=keep))]
    words = lexicon.segmenter().segment(lines)
    if args.command == "templates":
        author = args.style == "author"
        window = args.window if args.window is not None else (5 if author else 4)
        min_pmi = args.min_pmi if args.min_pmi is not None else (2.0 if author else 1.0)
        counts = count_templates(words, window, args.min_count, min_pmi, args.max_words, args.style, args.min_proba)
        rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        atomic_write_text(args.out, "template\tcount\n" + "".join(f"{t}\t{c}\n" for t, c in rows))
        return {"sentences": len(sentences(words)), "templates": len(rows), "top": [f"{t}\t{c}" for t, c in rows[:10]]}
    templates = _load_templates(args.templates)
    word_counts = dict(zip(lexicon.words, lexicon.counts.tolist()))
    parser = TemplateParser(templates, word_counts)
    trees = [" ".join(parser.parse(s) for s in sentences([ws])) for ws in words]
    atomic_write_text(args.out, "".join(t + "\n" for t in trees))
    return {"lines": len(trees), "examples": trees[:2]}


def _load_templates(path) -> dict[str, int]:
    out = {}
    for number, line in enumerate(open(path, encoding="utf-8").read().splitlines(), start=1):
        if number == 1 and line.startswith("template\t"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}:{number}: expected 'template<TAB>count', got {line[:60]!r}")
        out[parts[0]] = int(parts[1])
    if not out:
        raise ValueError(f"templates file {path} holds no templates")
    return out


__all__ = ["TemplateParser", "count_templates", "sentences"]
