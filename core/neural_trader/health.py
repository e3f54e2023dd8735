"""Readiness beyond the database: the shared cache and the brokers, for ``/readyz``.

The database decides readiness (without it nothing works: 503). The cache and the brokers only
degrade it: with Redis down the cache, rate limits and sessions fall back to this process's
memory, and a broker whose reconciliation failed refuses new orders while reads go on, so the
answer stays 200 with ``status: degraded`` and a check that says what is wrong. Nothing here builds a
service that is not built yet: a check of something unused reports ``not in use``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neural_trader.host import Host

__all__ = ["service_checks"]


def _cache(host: Host) -> dict[str, Any]:
    services = getattr(host, "_services", None)
    cache = getattr(services, "_cache", None) if services is not None else None
    if not host.settings.redis_url:
        return {"ok": True, "detail": "in-process memory"}
    if cache is None:
        return {"ok": True, "detail": "redis configured, not in use yet"}
    primary = getattr(cache, "primary", cache)
    client = getattr(primary, "client", None)
    try:
        if client is not None:
            client.ping()
    except Exception as exc:
        return {"ok": False, "detail": f"redis is not answering ({type(exc).__name__}); serving from memory"}
    if getattr(cache, "degraded", False):
        return {"ok": False, "detail": "redis was down; serving from memory until it answers"}
    return {"ok": True, "detail": "redis answered"}


def _brokers(host: Host) -> dict[str, Any]:
    services = getattr(host, "_services", None)
    trading = getattr(services, "_trading", None) if services is not None else None
    managers = trading.managers() if trading is not None else []
    if not managers:
        return {"ok": True, "detail": "no broker in use yet"}
    problems = []
    for manager in managers:
        if not manager.reconciled:
            report = manager.last_reconcile
            problems.append(f"{manager.broker.name}/{manager.account}: not reconciled"
                            + (f" ({report.error[:200]})" if report is not None and report.error else ""))
    if problems:
        return {"ok": False, "detail": "; ".join(problems) + "; new orders are refused"}
    return {"ok": True, "detail": ", ".join(f"{m.broker.name}/{m.account} reconciled" for m in managers)}


def service_checks(host: Host) -> dict[str, dict[str, Any]]:
    """``{"cache": {ok, detail}, "brokers": {ok, detail}}``; blocking (Redis ping), so run in a thread."""
    return {"cache": _cache(host), "brokers": _brokers(host)}
