"""Cost bounds: what one request may ask the host to do, checked before the work starts.

Each bound is a :class:`~neural_trader.settings.Settings` field (``max_bars`` ...) set by
``NT_MAX_BARS`` or ``max_bars = ...`` in the config file. :func:`check` refuses a request that asks
for more with :class:`~neural_trader.errors.NtLimitExceeded`, whose message names the bound, the
asked value, the limit and the setting that raises it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from neural_trader.errors import NtLimitExceeded

if TYPE_CHECKING:
    from neural_trader.settings import Settings

__all__ = ["BOUNDS", "check", "limit"]


def _bounds() -> tuple[str, ...]:
    from neural_trader.settings import Settings

    return tuple(f.name for f in attrs.fields(Settings) if f.metadata.get("bound"))


#: The names of the bounds (Settings fields), e.g. ``max_bars``.
BOUNDS: tuple[str, ...] = _bounds()


def limit(settings: Settings, bound: str) -> int:
    """The value of ``bound`` (``max_bars`` ...) in ``settings``."""
    if bound not in BOUNDS:
        raise KeyError(f"no bound named {bound!r}; known: {', '.join(BOUNDS)}")
    value = int(getattr(settings, bound))
    if bound == "max_workers" and value == 0:
        return os.cpu_count() or 1
    return value


def check(settings: Settings, bound: str, asked: int, what: str) -> None:
    """Refuse ``asked`` when it is above the host's ``bound``; ``what`` says what was asked for
    (``"1Min bars of SPY from 1971-01-01 to 2262-01-01"``)."""
    most = limit(settings, bound)
    if asked <= most:
        return
    setting = f"NT_{bound.upper()}"
    raise NtLimitExceeded(
        f"{what}: {asked:,} is more than {bound} = {most:,}; ask for less, or raise the bound on purpose "
        f"with {setting} (or {bound} = ... in the config file)",
        details={"bound": bound, "asked": asked, "limit": most, "setting": setting})
