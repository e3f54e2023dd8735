"""Risk analytics and portfolio construction: VaR/CVaR by every method, volatility models, stress
tests, correlation, drawdowns, position sizing and portfolio optimisers, as one first-party pack.

The maths lives in plain modules (``var``, ``volatility``, ``stress``, ``correlation``, ``sizing``,
``construction``, ``performance``) that take numpy arrays and raise :class:`NtUserError` naming the
field; ``api`` turns them into operations.
"""
