"""Services operations use: storage (SQLModel), cache (memory/Redis), API keys, outbound HTTP, the
audit log and trading (the order managers).

Each is built lazily on first use, so a CLI ``--help`` or an operation that needs none of them
never opens a database.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.services.audit import AuditLog
    from neural_trader.services.branches import MigrationBranch
    from neural_trader.services.cache import Cache
    from neural_trader.services.http import HttpService
    from neural_trader.services.keys import KeyStore
    from neural_trader.services.storage import Storage
    from neural_trader.services.trading import Trading
    from neural_trader.settings import Settings


class Services:
    """The services of one host, created on first use and closed with the host."""

    def __init__(self, settings: Settings, *, migration_branches: Iterable[MigrationBranch] = (),
                 host: Host | None = None) -> None:
        self.settings = settings
        # Trading builds brokers from the host's registries; weak, so the services never keep it alive.
        self._host = None if host is None else weakref.ref(host)
        #: The plugins' tables: storage migrates them with the core's.
        self.migration_branches = tuple(migration_branches)
        self._lock = threading.Lock()
        self._storage: Storage | None = None
        self._cache: Cache | None = None
        self._keys: KeyStore | None = None
        self._http: HttpService | None = None
        self._audit: AuditLog | None = None
        self._trading: Trading | None = None

    @property
    def storage(self) -> Storage:
        with self._lock:
            if self._storage is None:
                from neural_trader.services.storage import Storage

                self._storage = Storage.from_settings(self.settings, branches=self.migration_branches)
            return self._storage

    @property
    def cache(self) -> Cache:
        with self._lock:
            if self._cache is None:
                from neural_trader.services.cache import make_cache

                self._cache = make_cache(self.settings)
            return self._cache

    @property
    def http(self) -> HttpService:
        """The shared HTTP layer external adapters use (rate limits, retries, breakers)."""
        with self._lock:
            if self._http is None:
                from neural_trader.services.http import HttpService

                self._http = HttpService(self.settings)
            return self._http

    @property
    def keys(self) -> KeyStore:
        storage = self.storage
        with self._lock:
            if self._keys is None:
                from neural_trader.services.keys import KeyStore

                self._keys = KeyStore(storage)
            return self._keys

    @property
    def audit(self) -> AuditLog:
        """The hash-chained audit log (:mod:`neural_trader.services.audit`) under the configured secret."""
        storage = self.storage
        with self._lock:
            if self._audit is None:
                from neural_trader.services.audit import AuditLog

                self._audit = AuditLog.from_settings(storage, self.settings)
            return self._audit

    @property
    def trading(self) -> Trading:
        """The host's order managers, one per (broker, account) (:mod:`neural_trader.services.trading`)."""
        host = None if self._host is None else self._host()
        with self._lock:
            if self._trading is None:
                if host is None:
                    from neural_trader.errors import NtUnavailable

                    raise NtUnavailable("trading needs the host's brokers: these services were built without a host")
                from neural_trader.services.trading import Trading

                self._trading = Trading(host)
            return self._trading

    def describe(self) -> dict[str, Any]:
        """Backends in use, without opening anything that is not open yet."""
        from neural_trader.settings import _mask_url

        return {
            "database": _mask_url(self.settings.effective_database_url),
            "database_backend": self.settings.effective_database_url.split(":", 1)[0].split("+")[0],
            "cache_backend": "redis" if self.settings.redis_url else "memory",
        }

    def close(self) -> None:
        with self._lock:
            trading, self._trading = self._trading, None
        if trading is not None:
            trading.close()  # first: it stops its loop before the database and HTTP go
        with self._lock:
            for service in (self._http, self._cache, self._storage):
                if service is not None:
                    service.close()
            self._storage = self._cache = self._keys = self._http = None
            self._audit = None
