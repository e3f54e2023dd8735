"""RSS 2.0 and Atom files (constructed from the RSS 2.0 specification and RFC 4287, see the
manifest): dates with offsets to UTC, links and permalink guids, HTML stripped, cashtags, and
documents that must be refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from neural_trader.errors import NtUserError
from neural_trader_plugins.news import rss

from .conftest import FIXTURES


def test_rss2() -> None:
    first, second = rss.read_feed(FIXTURES / "rss/sample_rss2.xml", symbols=["AAPL"]).articles
    assert first.published_at == dt.datetime(2024, 5, 2, 20, 50, tzinfo=dt.UTC)  # 16:50 -0400
    assert first.source == "Example Markets Wire" and first.symbols == ("AAPL",)
    assert first.summary == "Apple Inc on Thursday forecast revenue growth & a record buyback."
    assert first.canonical_url() == "reuters.com/technology/apple-results-2024-05-02"
    # no <link>: the permalink guid is the URL; the cashtag tags TSLA
    assert second.url == "https://www.example-markets.com/tesla-recall"
    assert second.symbols == ("AAPL", "TSLA") and second.summary is None
    assert second.published_at == dt.datetime(2024, 4, 19, 14, 0, tzinfo=dt.UTC)


def test_atom() -> None:
    first, second = rss.read_feed(FIXTURES / "rss/sample_atom.xml").articles
    assert first.url == "https://blog.example.org/2024/05/boeing-guidance/"  # the alternate link, not edit
    assert first.published_at == dt.datetime(2024, 5, 3, 8, 15, tzinfo=dt.UTC)  # published 10:15+02:00
    assert first.source == "Example Filings Blog" and first.summary == "Deliveries fell for a third month."
    assert second.published_at == dt.datetime(2024, 5, 22, 20, 30, tzinfo=dt.UTC)  # only updated
    assert second.summary == "Record revenue in data centres."


def test_cashtags() -> None:
    assert rss.cashtags("$AAPL and $BRK.B up, $5 off, US$10, $tsla") == ("AAPL", "BRK.B")


@pytest.mark.parametrize(("document", "message"), [
    (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaa">]><rss><channel/></rss>', "DOCTYPE"),
    (b"<rss><channel><item><title>x</title></channel></rss>", "not well-formed"),
    (b"<html><body/></html>", "neither RSS"),
    (b"<rss version='2.0'><channel><item><title>x</title></item></channel></rss>", "pubDate"),
    (b"<rss version='2.0'><channel><item><title>x</title><pubDate>Thu, 02 May 2024 16:50:00</pubDate>"
     b"</item></channel></rss>", "time zone"),
    (b"<rss version='2.0'><channel><item><title>x</title><pubDate>soon</pubDate></item></channel></rss>", "RFC 822"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>x</title></entry></feed>", "published nor updated"),
])
def test_bad_documents_are_refused_by_name(document: bytes, message: str) -> None:
    with pytest.raises(NtUserError, match=message):
        rss.parse_feed(document, name="bad.xml")


def test_html_inside_cdata_is_not_a_doctype() -> None:
    doc = (b"<rss version='2.0'><channel><title>W</title><item><title>Apple beats</title>"
           b"<description><![CDATA[<!DOCTYPE html><p>Shares <b>up</b></p>]]></description>"
           b"<pubDate>Thu, 02 May 2024 20:50:00 GMT</pubDate></item></channel></rss>")
    (article,) = rss.parse_feed(doc).articles
    assert article.summary == "Shares up"


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(NtUserError, match="path"):
        rss.read_feed(tmp_path / "nope.xml")
