"""The first-party data providers: this catalogue says what each can do; one module each implements it
(``synthetic``, ``csvfiles``, ``local``, ``alpaca``, ``finnhub``, ``alphavantage``).

A provider's module is imported only when the host first uses it, so listing providers (and every
CLI start) never pays for the HTTP stack of the network adapters.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from neural_trader.domain.market import Timeframe
from neural_trader.market.provider import Capabilities, DataProvider, ProviderContext, ProviderSpec

__all__ = ["CAPABILITIES", "SPECS"]

_EQUITY = frozenset({"equity"})

#: What each provider serves (the adapters use these too).
CAPABILITIES: dict[str, Capabilities] = {
    "synthetic": Capabilities(bars=True, quotes=True, trades=True, point_in_time=True, synthetic=True),
    "csv": Capabilities(bars=True, cacheable=False),
    "local": Capabilities(bars=True, quotes=True, point_in_time=True, cacheable=False),
    "alpaca": Capabilities(bars=True, quotes=True, trades=True, asset_classes=_EQUITY, network=True,
                           multi_symbol=True),
    "finnhub": Capabilities(bars=True, quotes=True, asset_classes=_EQUITY, network=True,
                            timeframes=frozenset(Timeframe) - {Timeframe.HOUR_4}),
    "alphavantage": Capabilities(bars=True, timeframes=frozenset({Timeframe.DAY_1}), asset_classes=_EQUITY,
                                 network=True),
}


def _lazy(module: str, cls: str) -> Callable[[ProviderContext], DataProvider]:
    def create(ctx: ProviderContext) -> DataProvider:
        implementation = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
        return implementation(ctx)  # type: ignore[no-any-return]

    create.__qualname__ = f"create_{module}"
    return create


SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec(name="synthetic", capabilities=CAPABILITIES["synthetic"],
                 summary="Deterministic generated prices (GBM with regimes, jumps, intraday seasonality); "
                         "always labelled synthetic",
                 create=_lazy("synthetic", "SyntheticProvider")),
    ProviderSpec(name="csv", capabilities=CAPABILITIES["csv"],
                 summary="CSV/Parquet files named after their symbol, in NT_CSV_DIR (default <data_dir>/csv)",
                 create=_lazy("csvfiles", "CsvProvider"), configure_hint="NT_CSV_DIR"),
    ProviderSpec(name="local", capabilities=CAPABILITIES["local"],
                 summary="The local bar store, filled by market.download: offline, exact, fast",
                 create=_lazy("local", "LocalProvider")),
    ProviderSpec(name="alpaca", capabilities=CAPABILITIES["alpaca"],
                 summary="Alpaca market data v2: US equity bars, latest quotes and trades (iex or sip feed)",
                 create=_lazy("alpaca", "AlpacaProvider"),
                 configure_hint="NT_ALPACA_API_KEY and NT_ALPACA_API_SECRET"),
    ProviderSpec(name="finnhub", capabilities=CAPABILITIES["finnhub"],
                 summary="Finnhub: quotes (last price); stock candles on premium plans",
                 create=_lazy("finnhub", "FinnhubProvider"), configure_hint="NT_FINNHUB_API_KEY"),
    ProviderSpec(name="alphavantage", capabilities=CAPABILITIES["alphavantage"],
                 summary="Alpha Vantage: daily bars (latest 100 days free; full history on premium plans)",
                 create=_lazy("alphavantage", "AlphaVantageProvider"), configure_hint="NT_ALPHAVANTAGE_API_KEY"),
)
