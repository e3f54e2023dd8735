"""The time the syndicate operations see: the UTC clock, or one a test puts in its place
(``with clock.use(lambda: when): ...``) so deadlines, notice periods and lock-ups are tested without
sleeping."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

from neural_trader.services.tables import utcnow

__all__ = ["now", "use"]

_source: Callable[[], dt.datetime] = utcnow


def now() -> dt.datetime:
    value = _source()
    if value.tzinfo is None:
        raise ValueError("the syndicate clock must give timezone-aware datetimes")
    return value.astimezone(dt.UTC)


@contextlib.contextmanager
def use(source: Callable[[], dt.datetime]) -> Iterator[None]:
    """Read the time from ``source`` inside the block."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
