"""An optional scorer on the Loughran-McDonald dictionary (Loughran & McDonald, 2011, "When is a
liability not a liability?", Journal of Finance 66(1)), the word lists built for financial text.

The dictionary is not shipped (its licence allows academic use; commercial use needs one from its
authors): point ``NT_LM_DICTIONARY`` at the master dictionary CSV you downloaded
(https://sraf.nd.edu/loughranmcdonald-master-dictionary/). Until then the model is listed as not
configured, with that reason. The CSV's header names the columns; this scorer reads ``Word``,
``Positive`` and ``Negative``, where a positive number (the year the word was added) puts the word in
the category and ``0`` (or a negative number: the year it was removed) does not.

Scoring one text: its words are the runs of letters (``[A-Za-z]+``, apostrophes split), upper-cased
as the dictionary's; ``P`` and ``N`` count the positive and negative words, where a positive word
with a negation (no, not, none, neither, never, nobody) among the three words before it counts as
negative (the paper's simple-negation rule, applied to positive words only and read as a flip, as
common implementations do); ``T`` is the number of words. The score is the net tone
``(P - N) / (P + N)`` (0 when neither occurs), ``positive = P / T``, ``negative = N / T``,
``neutral = 1 - (P + N) / T``, and the label is :func:`~.sentiment.label_for` of the score.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

from neural_trader.errors import NtUserError

from .articles import Article
from .sentiment import SentimentScore, label_for
from .user_file import UserFile

__all__ = ["ENV", "LoughranMcDonaldScorer", "read_dictionary"]

ENV = "NT_LM_DICTIONARY"
NEGATIONS = frozenset({"NO", "NOT", "NONE", "NEITHER", "NEVER", "NOBODY"})
#: The largest dictionary file read (the 2023 master dictionary is about 9 MB).
MAX_BYTES = 64 * 1024 * 1024
_WORD = re.compile(r"[A-Za-z]+")


def _member(value: str | None) -> bool:
    try:
        return float((value or "0").strip() or 0) > 0
    except ValueError:
        return False


def read_dictionary(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """``(positive words, negative words)`` of a master dictionary CSV."""
    if not path.is_file():
        raise NtUserError(f"{ENV} names no file: put the Loughran-McDonald master dictionary CSV there")
    if path.stat().st_size > MAX_BYTES:
        raise NtUserError(f"{ENV} names a file over {MAX_BYTES // 2**20} MiB: that is not the master dictionary")
    positive, negative = set(), set()
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or ()}
        missing = [c for c in ("word", "positive", "negative") if c not in columns]
        if missing:
            raise NtUserError(f"the Loughran-McDonald dictionary in {ENV} has no {', '.join(missing)} column; "
                              "use the master dictionary CSV (Word, ..., Negative, Positive, ...)")
        for row in reader:
            word = (row.get(columns["word"]) or "").strip().upper()
            if not word:
                continue
            if _member(row.get(columns["positive"])):
                positive.add(word)
            if _member(row.get(columns["negative"])):
                negative.add(word)
    return frozenset(positive), frozenset(negative)


class LoughranMcDonaldScorer:
    """Net tone on the Loughran-McDonald word lists (module doc); the file is read on first use and
    again when it changes."""

    name = "loughran_mcdonald"
    summary = ("Loughran-McDonald financial word lists: net tone (P - N) / (P + N), positive words after a "
               f"negation count as negative; needs the master dictionary CSV in {ENV}")

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._file: UserFile[tuple[frozenset[str], frozenset[str]]] = UserFile(ENV, environ)

    def status(self) -> tuple[bool, str | None]:
        return self._file.status(unset="the Loughran-McDonald master dictionary CSV (not shipped: academic licence)",
                                 missing="put the master dictionary CSV there")

    def lists(self) -> tuple[frozenset[str], frozenset[str]]:
        """``(positive, negative)`` words, read from the configured file."""
        path = self._file.path()
        if path is None:
            raise NtUserError(f"model loughran_mcdonald is not configured: {self.status()[1]}")
        try:
            return self._file.load(path, read_dictionary)
        except OSError:
            raise NtUserError(f"model loughran_mcdonald: {ENV} names no file; put the master dictionary "
                              "CSV there") from None

    def counts(self, text: str) -> tuple[int, int, int]:
        """``(P, N, T)`` of ``text`` (module doc)."""
        positive, negative = self.lists()
        words = [w.upper() for w in _WORD.findall(text)]
        p = n = 0
        for i, word in enumerate(words):
            if word in positive:
                if NEGATIONS.intersection(words[max(0, i - 3):i]):
                    n += 1
                else:
                    p += 1
            elif word in negative:
                n += 1
        return p, n, len(words)

    def score(self, text: str) -> SentimentScore:
        if not isinstance(text, str):
            raise NtUserError(f"text must be a string, not {type(text).__name__}")
        if not text.strip():
            raise NtUserError("text is empty: give a headline or a summary to score")
        p, n, total = self.counts(text)
        tone = (p - n) / (p + n) if p + n else 0.0
        total = max(total, 1)
        return SentimentScore(compound=tone, positive=p / total, negative=n / total,
                              neutral=1.0 - (p + n) / total, label=label_for(tone))

    def score_article(self, article: Article, *, with_summary: bool = False) -> SentimentScore:
        text = article.title
        if with_summary and article.summary:
            text = f"{text}. {article.summary}"
        return self.score(text)
