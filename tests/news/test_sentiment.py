"""The VADER + finance-overlay scorer on hand-labelled finance headlines (the labels are the oracle;
rows marked ``vader_wrong`` are ones plain VADER gets wrong, shown against plain VADER itself),
plain VADER reproduced exactly when the overlay is empty, the label thresholds, and empty text."""

from __future__ import annotations

import datetime as dt

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from neural_trader.errors import NtUserError
from neural_trader_plugins.news.articles import Article
from neural_trader_plugins.news.sentiment import (
    FINANCE_LEXICON,
    Label,
    VaderFinanceScorer,
    default_scorer,
    label_for,
)

BULL, NEUTRAL, BEAR = 1, 0, -1
#: (headline, expected sign, plain VADER gets the sign wrong)
HEADLINES = [
    ("Apple beats quarterly revenue estimates on strong iPhone demand", BULL, False),
    ("Nvidia beats estimates and raises guidance", BULL, True),
    ("Intel misses estimates as PC demand weakens", BEAR, False),
    ("Boeing cuts guidance as 737 deliveries slump", BEAR, False),
    ("Analyst downgrades Tesla to underperform", BEAR, True),
    ("Microsoft upgraded to outperform at Morgan Stanley", BULL, True),
    ("Retailer files for Chapter 11 bankruptcy protection", BEAR, True),
    ("Shareholders file class action lawsuit against Meta", BEAR, False),
    ("Ford recalls 500,000 SUVs over brake defect", BEAR, False),
    ("Amazon posts record revenue in holiday quarter", BULL, False),
    ("Apple shares slump after downgrade", BEAR, True),
    ("Bank hit with record fine over money laundering", BEAR, True),
    ("Netflix shares soar on subscriber growth", BULL, False),
    ("Pfizer shares tumble after drug trial fails", BEAR, False),
    ("Exxon raises dividend and expands buyback", BULL, False),
    ("Chipmaker issues profit warning, shares sink", BEAR, True),
    ("Airline suspends dividend amid fuel costs", BEAR, True),
    ("Regulators open antitrust probe into Google", BEAR, True),
    ("Startup defaults on bond payments", BEAR, True),
    ("Walmart tops estimates, raises outlook", BULL, False),
    ("Oracle stock surges to record high on cloud deals", BULL, True),
    ("Coinbase delisted tokens after SEC subpoena", BEAR, True),
    ("Auditor raises going concern doubt about WeWork", BEAR, False),
    ("Disney announces layoffs of 7,000 employees", BEAR, True),
    ("AMD gains after strong data centre sales", BULL, False),
    ("Gross margin improves as costs fall", BULL, True),
    ("Interest rates unchanged as Fed holds", NEUTRAL, True),
    ("Company schedules earnings call for Thursday", NEUTRAL, False),
    ("Shares of GE rally after spin-off", BULL, False),
    ("Tesla misses delivery estimates; stock drops", BEAR, False),
    ("Salesforce lowers guidance on weak demand", BEAR, False),
    ("Moody's downgrades China's credit outlook", BEAR, True),
    ("Meta crushes estimates with record profit", BULL, True),
    ("Lender posts record loss on bad loans", BEAR, False),
    ("Credit Suisse shares plunge as crisis deepens", BEAR, False),
]


def _sign(compound: float) -> int:
    return NEUTRAL if abs(compound) < 0.05 else (BULL if compound > 0 else BEAR)


@pytest.fixture(scope="module")
def plain() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def test_the_labelled_set_is_large_and_mixed() -> None:
    assert len(HEADLINES) >= 30
    assert {sign for _, sign, _ in HEADLINES} == {BULL, NEUTRAL, BEAR}
    assert sum(wrong for *_, wrong in HEADLINES) >= 10


@pytest.mark.parametrize(("headline", "sign", "vader_wrong"), HEADLINES)
def test_headline_signs(headline: str, sign: int, vader_wrong: bool, plain: SentimentIntensityAnalyzer) -> None:
    score = default_scorer().score(headline)
    assert _sign(score.compound) == sign, (headline, score)
    assert score.label is label_for(score.compound)
    vader_alone = plain.polarity_scores(headline)["compound"]
    assert (_sign(vader_alone) != sign) is vader_wrong, (headline, vader_alone)


def test_an_empty_overlay_is_plain_vader(plain: SentimentIntensityAnalyzer) -> None:
    bare = VaderFinanceScorer(overlay={}, neutral=())
    for headline, *_ in HEADLINES:
        assert bare.score(headline).compound == plain.polarity_scores(headline)["compound"]


def test_phrases_are_joined_before_vader_and_single_words_still_count() -> None:
    scorer = default_scorer()
    assert scorer.prepare("Boeing CUTS  Guidance; beats estimates") == "Boeing cuts_guidance; beats_estimates"
    assert scorer.prepare("guidance cutter") == "guidance cutter"  # word boundaries
    assert {"guidance cut", "beats estimates", "chapter 11"} <= set(FINANCE_LEXICON)
    assert scorer.score("guidance cut").compound < scorer.score("guidance").compound


def test_thresholds() -> None:
    cases = [(-1.0, Label.VERY_BEARISH), (-0.5, Label.VERY_BEARISH), (-0.4999, Label.BEARISH),
             (-0.05, Label.BEARISH), (-0.0499, Label.NEUTRAL), (0.0, Label.NEUTRAL), (0.0499, Label.NEUTRAL),
             (0.05, Label.BULLISH), (0.4999, Label.BULLISH), (0.5, Label.VERY_BULLISH), (1.0, Label.VERY_BULLISH)]
    for compound, label in cases:
        assert label_for(compound) is label, compound
    with pytest.raises(NtUserError, match="compound"):
        label_for(1.5)


def test_empty_text_has_no_sentiment() -> None:
    for text in ("", "   \n"):
        with pytest.raises(NtUserError, match="text is empty"):
            default_scorer().score(text)
    with pytest.raises(NtUserError, match="text must be a string"):
        default_scorer().score(None)  # type: ignore[arg-type]


def test_a_bad_overlay_names_the_entry() -> None:
    with pytest.raises(NtUserError, match="overlay\\['moon'\\]"):
        VaderFinanceScorer(overlay={"moon": 9.0})


def test_articles_score_their_title_and_optionally_the_summary() -> None:
    article = Article.create(title="Apple reports quarterly results", summary="Revenue beats estimates.",
                             source="Wire", published_at=dt.datetime(2024, 5, 2, tzinfo=dt.UTC), provider="rss")
    scorer = default_scorer()
    assert scorer.score_article(article).label is Label.NEUTRAL
    assert scorer.score_article(article, with_summary=True).compound > 0.05
