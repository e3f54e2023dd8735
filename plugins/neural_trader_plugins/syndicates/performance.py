"""A member's performance (contribution, P&L, ROI, time-weighted return) and an illustrative tax
estimate on their realised gains.

* ``pnl = value now + withdrawn + distributions + fees received - contributed``; ``roi = pnl /
  contributed``.
* Time-weighted return (the GIPS definition with a valuation at every external flow): the member's
  holding is valued just before and just after each of their flows (deposit, withdrawal,
  distribution); between flows the sub-period return is ``V_before(next flow) / V_after(this flow)``,
  and a flow itself contributes ``(V_after + cash out - cash in) / V_before`` (1 for a deposit, below
  1 for an emergency penalty, the share of a non-proportional distribution against the value it took).
  ``TWR = product of all of them - 1``; it does not depend on how much the member put in or when.
* Tax: gains realised in the calendar year (distributions, performance fees received, and on each
  redemption the value paid less the average cost of the units redeemed), net of realised losses,
  times an illustrative rate of the jurisdiction (:data:`TAX_RATES`). It is an **estimate** for
  planning, with the rate and its assumption stated, **not tax advice**.
"""

from __future__ import annotations

import datetime as dt
import decimal

import attrs

from neural_trader.errors import NtUserError
from neural_trader_plugins.syndicates.books import Books, MemberState
from neural_trader_plugins.syndicates.money import ZERO, cents

D = decimal.Decimal

__all__ = ["TAX_RATES", "Performance", "TaxRate", "performance", "realised_gains", "time_weighted_return"]


@attrs.frozen(kw_only=True)
class TaxRate:
    rate: D
    basis: str


#: Illustrative rates on a member's realised betting-syndicate gains (docs/syndicates.md, "Tax").
TAX_RATES: dict[str, TaxRate] = {
    "US": TaxRate(rate=D("0.24"), basis="US federal withholding rate on gambling winnings (IRS Form W-2G "
                                        "instructions, 24 %); the final liability is ordinary income tax at your "
                                        "marginal rate, plus state tax, losses deductible only when itemising"),
    "UK": TaxRate(rate=D("0"), basis="UK: betting winnings of individuals are not subject to income tax or capital "
                                     "gains tax (HMRC); professional or trading activity may differ"),
    "IE": TaxRate(rate=D("0"), basis="Ireland: betting winnings are not taxed for individuals (Revenue); the "
                                     "bookmaker pays betting duty"),
    "AU": TaxRate(rate=D("0"), basis="Australia: winnings of recreational gamblers are not assessable income "
                                     "(ATO); carrying on a business of gambling may differ"),
    "CA": TaxRate(rate=D("0"), basis="Canada: casual gambling winnings are not taxable (CRA); professional "
                                     "gambling income is"),
}


def time_weighted_return(member: MemberState, value_now: D) -> D | None:
    """The member's TWR since their first deposit (``None`` before it)."""
    if not member.flows:
        return None
    growth = D(1)
    previous_after: D | None = None
    for flow in member.flows:
        if previous_after is not None and previous_after > 0:
            growth *= flow.before / previous_after
        if flow.before > 0:
            growth *= (flow.after + flow.cash_out - flow.cash_in) / flow.before
        previous_after = flow.after
    if previous_after is not None and previous_after > 0:
        growth *= value_now / previous_after
    return growth - 1


@attrs.frozen(kw_only=True)
class Performance:
    member_id: str
    units: D
    value: D
    contributed: D
    withdrawn: D
    distributions: D
    fees_received: D
    pnl: D
    roi: D | None
    time_weighted_return: D | None
    average_unit_cost: D | None


def performance(books: Books, member: MemberState) -> Performance:
    value = books.value_of(member)
    pnl = value + member.withdrawn + member.distributions + member.fees_received - member.contributed
    twr = time_weighted_return(member, value)
    return Performance(
        member_id=member.member_id, units=member.units, value=value, contributed=member.contributed,
        withdrawn=member.withdrawn, distributions=member.distributions, fees_received=member.fees_received, pnl=pnl,
        roi=(pnl / member.contributed).quantize(D("0.000001")) if member.contributed > 0 else None,
        time_weighted_return=None if twr is None else twr.quantize(D("0.000001")),
        average_unit_cost=(member.cost_basis / member.units).quantize(D("0.00000001")) if member.units > 0 else None)


def realised_gains(member: MemberState, year: int) -> D:
    start, end = dt.datetime(year, 1, 1, tzinfo=dt.UTC), dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    return sum((gain for at, gain in member.realised if start <= at < end), ZERO)


def tax_rate(jurisdiction: str, custom_rate: D | None) -> TaxRate:
    if custom_rate is not None:
        return TaxRate(rate=custom_rate, basis="a rate you gave (custom_rate)")
    found = TAX_RATES.get(jurisdiction.upper())
    if found is None:
        raise NtUserError(f"jurisdiction must be one of {', '.join(TAX_RATES)}, or give custom_rate; got "
                          f"{jurisdiction!r}")
    return found


def estimate(gains: D, rate: TaxRate) -> D:
    return cents(max(gains, ZERO) * rate.rate)
