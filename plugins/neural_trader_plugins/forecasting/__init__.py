"""Neural forecasting: features and windows from bars, torch architectures (LSTM, GRU, Transformer,
TCN, N-BEATS), training with early stopping, split conformal intervals, naive baselines and metrics.

Plain modules: ``features``, ``baselines``, ``evaluation`` and ``conformal`` need numpy only;
``models`` describes the architectures without importing torch; ``nets`` (the torch modules) and
``training`` need torch (the ``neural`` extra) and raise :class:`NtUnavailable` without it.
"""
