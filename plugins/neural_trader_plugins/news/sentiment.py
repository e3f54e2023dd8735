"""The default sentiment scorer: VADER (Hutto & Gilbert, 2014; the ``vaderSentiment`` package) with
a project-owned finance overlay.

VADER's lexicon was built for social media: it scores "beats", "downgrade" and "recall" as neutral
and "shares", "interest", "credit" and "gross" as positive, which is wrong for headlines ("Apple
shares slump after downgrade" comes out positive). :data:`FINANCE_LEXICON` holds valences on
VADER's -4..+4 scale that replace or add to VADER's; :data:`NEUTRAL_IN_FINANCE` are words whose
VADER valence is removed. Multi-word entries ("guidance cut", "beats estimates") are matched
case-insensitively on word boundaries and joined with ``_`` before VADER tokenises the text, so
they score as one token.

The score is VADER's ``compound`` (-1..1). Labels, with VADER's documented neutral band of
+-0.05 and a strong band from 0.5:

=============  ========================
label          compound
=============  ========================
very bearish   ``c <= -0.5``
bearish        ``-0.5 < c <= -0.05``
neutral        ``-0.05 < c < 0.05``
bullish        ``0.05 <= c < 0.5``
very bullish   ``c >= 0.5``
=============  ========================

Two optional models register through the same hook: :mod:`.loughran_mcdonald` (its word list is
licensed for academic use, so the user supplies the file) and :mod:`.onnx_classifier` (the user's
ONNX model).
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping

import attrs
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from neural_trader.errors import NtUserError

from .articles import Article

NEUTRAL_BAND = 0.05
STRONG_BAND = 0.5


class Label(enum.StrEnum):
    VERY_BEARISH = "very bearish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"
    BULLISH = "bullish"
    VERY_BULLISH = "very bullish"


def label_for(compound: float) -> Label:
    """The label of a compound score (thresholds in the module doc)."""
    if not -1.0 <= compound <= 1.0:
        raise NtUserError(f"compound must be within -1..1, got {compound!r}")
    if compound <= -STRONG_BAND:
        return Label.VERY_BEARISH
    if compound <= -NEUTRAL_BAND:
        return Label.BEARISH
    if compound < NEUTRAL_BAND:
        return Label.NEUTRAL
    if compound < STRONG_BAND:
        return Label.BULLISH
    return Label.VERY_BULLISH


#: Finance valences on VADER's -4..+4 scale (entries with spaces are phrases).
FINANCE_LEXICON: Mapping[str, float] = {
    # results against expectations
    "beat": 1.8, "beats": 2.0, "tops": 1.8, "topped": 1.8, "exceeds": 1.8, "exceeded": 1.8,
    "beats estimates": 2.5, "tops estimates": 2.5, "crushes estimates": 2.8, "beat estimates": 2.5,
    "miss": -1.8, "misses": -2.0, "missed": -2.0, "misses estimates": -2.5, "missed estimates": -2.5,
    "falls short": -2.0, "shortfall": -2.0,
    # guidance and outlook
    "guidance cut": -2.8, "cuts guidance": -2.8, "cut guidance": -2.8, "lowers guidance": -2.5,
    "lowered guidance": -2.5, "slashes guidance": -3.0, "profit warning": -2.8, "warns": -1.8,
    "raises guidance": 2.5, "raised guidance": 2.5, "raises outlook": 2.3, "boosts guidance": 2.5,
    "record revenue": 2.6, "record profit": 2.6, "record high": 2.2, "record sales": 2.4,
    "record loss": -2.8, "record low": -2.2,
    # analysts
    "upgrade": 2.0, "upgrades": 2.0, "upgraded": 2.0, "downgrade": -2.0, "downgrades": -2.0,
    "downgraded": -2.0, "outperform": 1.8, "underperform": -1.8, "overweight": 1.2, "underweight": -1.2,
    "bullish": 2.0, "bearish": -2.0,
    # price moves
    "soar": 2.2, "soars": 2.2, "soared": 2.2, "surge": 2.0, "surges": 2.0, "surged": 2.0, "jumps": 1.6,
    "rally": 1.8, "rallies": 1.8, "rebound": 1.4, "rebounds": 1.4, "plunge": -2.6, "plunges": -2.6,
    "plunged": -2.6, "tumble": -2.2, "tumbles": -2.2, "tumbled": -2.2, "slump": -2.2, "slumps": -2.2,
    "sinks": -2.0, "slides": -1.6, "falls": -1.4, "drops": -1.4, "sell-off": -2.0, "selloff": -2.0,
    # corporate actions
    "buyback": 1.5, "share buyback": 1.6, "dividend hike": 2.0, "raises dividend": 2.0,
    "dividend cut": -2.4, "cuts dividend": -2.4, "suspends dividend": -2.6,
    "layoffs": -1.8, "job cuts": -1.8, "cost cuts": 0.5,
    # legal and distress
    "bankruptcy": -3.2, "chapter 11": -3.0, "insolvency": -3.0, "default": -2.2, "defaults": -2.2,
    "delisting": -2.6, "delisted": -2.6, "going concern": -2.6,
    "lawsuit": -1.8, "lawsuits": -1.6, "sued": -1.8, "class action": -1.8, "probe": -1.6,
    "investigation": -1.5, "subpoena": -1.8, "fined": -2.0, "fine": -1.2, "fines": -1.6,
    "recall": -1.8, "recalls": -1.8, "recalled": -1.8, "antitrust": -1.2, "writedown": -2.0,
    "write-down": -2.0, "impairment": -1.8,
}

#: Words VADER scores that carry no sentiment in financial text (interest rates, gross margin ...).
NEUTRAL_IN_FINANCE = frozenset({"share", "shares", "interest", "credit", "gross", "demand", "top"})


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    ordered = sorted(phrases, key=len, reverse=True)  # "beats estimates" before "beats"
    body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in ordered)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class SentimentScore:
    """VADER's scores of one text: ``compound`` in -1..1 and the ``positive``/``negative``/
    ``neutral`` proportions (summing to 1), with its :class:`Label`."""

    compound: float
    positive: float
    negative: float
    neutral: float
    label: Label


class VaderFinanceScorer:
    """VADER with a finance overlay. ``overlay`` (default :data:`FINANCE_LEXICON`) and ``neutral``
    (default :data:`NEUTRAL_IN_FINANCE`) may be replaced; ``overlay={}, neutral=()`` is plain VADER."""

    name = "vader_finance"
    summary = ("VADER (Hutto & Gilbert 2014) with a finance overlay lexicon (beats, misses, downgrade, "
               "guidance cut ...), offline; -1..1 with a label")

    def __init__(self, overlay: Mapping[str, float] | None = None, neutral: frozenset[str] | tuple[str, ...] | None = None) -> None:
        overlay = FINANCE_LEXICON if overlay is None else overlay
        neutral = NEUTRAL_IN_FINANCE if neutral is None else neutral
        for key, value in overlay.items():
            if not isinstance(value, int | float) or not -4.0 <= value <= 4.0:
                raise NtUserError(f"overlay[{key!r}] must be a valence within -4..4, got {value!r}")
        self._analyzer = SentimentIntensityAnalyzer()
        lexicon = self._analyzer.lexicon  # this instance's own dict
        for word in neutral:
            lexicon.pop(word.lower(), None)
        self._phrases: dict[str, str] = {}
        for key, value in overlay.items():
            words = key.lower().split()
            if len(words) > 1:
                joined = "_".join(words)
                self._phrases[" ".join(words)] = joined
                lexicon[joined] = float(value)
            else:
                lexicon[words[0]] = float(value)
        self._pattern = _phrase_pattern(list(self._phrases))

    def prepare(self, text: str) -> str:
        """``text`` with the overlay's phrases joined into single tokens."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._phrases[" ".join(m.group(0).lower().split())], text)

    def score(self, text: str) -> SentimentScore:
        """The sentiment of ``text``; empty text raises :class:`NtUserError` (it has no sentiment)."""
        if not isinstance(text, str):
            raise NtUserError(f"text must be a string, not {type(text).__name__}")
        if not text.strip():
            raise NtUserError("text is empty: give a headline or a summary to score")
        s = self._analyzer.polarity_scores(self.prepare(text))
        compound = float(s["compound"])
        return SentimentScore(compound=compound, positive=float(s["pos"]), negative=float(s["neg"]),
                              neutral=float(s["neu"]), label=label_for(compound))

    def score_article(self, article: Article, *, with_summary: bool = False) -> SentimentScore:
        """The sentiment of ``article``'s title (with its summary when ``with_summary``)."""
        text = article.title
        if with_summary and article.summary:
            text = f"{text}. {article.summary}"
        return self.score(text)


@functools.cache
def default_scorer() -> VaderFinanceScorer:
    """A shared :class:`VaderFinanceScorer` with the default overlay (building one reads VADER's
    lexicon file, about 10 ms)."""
    return VaderFinanceScorer()
