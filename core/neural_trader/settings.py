"""Settings from ``NT_*`` environment variables and an optional TOML file.

Precedence: explicit keyword arguments > environment > TOML file > defaults. The TOML file is
``$NT_CONFIG`` or ``<user config dir>/neural-trader/config.toml``; plugin values live under
``[plugins.<name>]`` and as ``NT_<NAME>_<KEY>`` variables. Secrets are masked in ``repr`` and in
``neural-trader config show``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import platformdirs

from neural_trader.errors import NtUserError

APP_NAME = "neural-trader"
_SECRET_WORDS = re.compile(r"(key|secret|token|password|passwd|credential)", re.IGNORECASE)


def _mask(value: object) -> str:
    return "'***'" if value else repr(value)


def _mask_url(url: str | None) -> str | None:
    """Hide the credentials of a URL: the password (``postgresql://u:pw@h/db`` ->
    ``postgresql://u:***@h/db``), a lone user part, which is often a token (``https://tok@h`` ->
    ``https://***@h``), and query values whose names sound secret (``?apiKey=...``)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return "***"  # not parseable as a URL: say nothing of it
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if password is not None:
            userinfo = f"{username or ''}:***"
        elif username:
            userinfo = "***"
        netloc = f"{userinfo}@{hostport}"
    query = "&".join(
        f"{name}=***" if _SECRET_WORDS.search(name) and value else (f"{name}={value}" if sep else name)
        for name, sep, value in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _mask_plugin_value(key: str, value: Any) -> Any:
    """A plugin setting as it may be shown: secret-sounding keys hidden, credentials in URLs hidden
    wherever they appear (``base_url = "https://user:pw@host"``), in nested tables and lists too."""
    if _SECRET_WORDS.search(key) and value:
        return "***"
    if isinstance(value, str) and "://" in value:
        return _mask_url(value)
    if isinstance(value, Mapping):
        return {k: _mask_plugin_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_plugin_value(key, v) for v in value]
    return value


def _split_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise NtUserError(f"expected a boolean (true/false), got {value!r}")


@attrs.frozen(kw_only=True)
class Settings:
    """Everything configurable about a host. Build with :func:`load_settings`."""

    data_dir: Path = attrs.field(converter=Path, metadata={"description": "where SQLite, the local bar store and models live"})
    config_file: Path | None = attrs.field(default=None, metadata={"description": "the TOML file that was read"})
    database_url: str | None = attrs.field(
        default=None, repr=lambda u: repr(_mask_url(u)),
        metadata={"description": "SQLAlchemy URL; SQLite in data_dir when unset", "url": True},
    )
    redis_url: str | None = attrs.field(
        default=None, repr=lambda u: repr(_mask_url(u)),
        metadata={"description": "Redis for cache and rate limits; in-process memory when unset", "url": True},
    )
    log_level: str = attrs.field(default="WARNING", metadata={"description": "logging level"})
    auth: bool = attrs.field(default=True, converter=_to_bool,
                             metadata={"description": "network frontends require an API key"})
    allowed_hosts: tuple[str, ...] = attrs.field(
        default=("127.0.0.1", "localhost", "[::1]"), converter=_split_list,
        metadata={"description": "Host headers MCP-HTTP and REST accept (DNS-rebinding protection)"},
    )
    allowed_origins: tuple[str, ...] = attrs.field(
        default=("http://127.0.0.1", "http://localhost", "http://[::1]"), converter=_split_list,
        metadata={"description": "Origin headers MCP-HTTP accepts (any port of these hosts)"},
    )
    shutdown_grace: float = attrs.field(
        default=10.0, converter=float, validator=[attrs.validators.ge(0), attrs.validators.le(3600)],
        metadata={"description": "seconds a stopping server (SIGTERM, Ctrl-C) lets running requests "
                                 "finish before it cancels them"},
    )
    # -- identities, tokens, rate limits, observability (docs/security.md, docs/observability.md) ---
    jwt_secret: str | None = attrs.field(
        default=None, repr=lambda v: _mask(v),
        metadata={"description": "HS256 key(s) for JWT bearer tokens, comma-separated: the first signs "
                                 "(`neural-trader tokens issue`), every one verifies; unset: no HS256",
                  "secret": True},
    )
    jwt_public_keys: Path | None = attrs.field(
        default=None, converter=lambda v: None if v in (None, "") else Path(v),
        metadata={"description": "a JWKS (JSON) or PEM file of RS256/ES256 public keys for JWT bearer "
                                 "tokens; re-read when it changes, so rotating a key takes effect at once"},
    )
    jwt_algorithms: tuple[str, ...] = attrs.field(
        default=("HS256", "RS256", "ES256"), converter=_split_list,
        metadata={"description": "JWT algorithms accepted (an allow-list: none is never accepted)"},
    )
    jwt_issuer: str = attrs.field(default="neural-trader",
                                  metadata={"description": "the iss every JWT must carry"})
    jwt_audience: str = attrs.field(default="neural-trader",
                                    metadata={"description": "the aud every JWT must carry (this resource)"})
    jwt_leeway: float = attrs.field(
        default=30.0, converter=float, validator=[attrs.validators.ge(0), attrs.validators.le(300)],
        metadata={"description": "seconds of clock skew allowed on exp, nbf and iat"},
    )
    jwt_max_ttl: float = attrs.field(
        default=86_400.0, converter=float, validator=attrs.validators.gt(0),
        metadata={"description": "longest JWT lifetime (exp - iat) accepted, in seconds"},
    )
    auth_cache_ttl: float = attrs.field(
        default=1.0, converter=float, validator=[attrs.validators.ge(0), attrs.validators.le(60)],
        metadata={"description": "seconds a replica may trust a cached key, identity or token revocation "
                                 "list; bounds how long a revocation made elsewhere takes to reach it"},
    )
    rate_limit_read: str = attrs.field(
        default="600/60",
        metadata={"description": "calls per identity to read operations: 'N/SECONDS' (0 turns it off)"},
    )
    rate_limit_trade: str = attrs.field(
        default="60/60",
        metadata={"description": "calls per identity to operations that act (not read-only, or scope "
                                 "trade/admin): 'N/SECONDS' (0 turns it off)"},
    )
    rate_limit_admin: str = attrs.field(
        default="0",
        metadata={"description": "calls per identity with the admin scope, any operation: 'N/SECONDS' "
                                 "(default 0: operators are not limited)"},
    )
    metrics_public: bool = attrs.field(
        default=False, converter=_to_bool,
        metadata={"description": "serve /metrics without a key (else it needs the admin scope)"},
    )
    log_format: str = attrs.field(
        default="text", validator=attrs.validators.in_(("text", "json")),
        metadata={"description": "server logs: text, or json (one object a line, with request ids)"},
    )
    tracing: str = attrs.field(
        default="none", validator=attrs.validators.in_(("none", "console", "otlp")),
        metadata={"description": "OpenTelemetry span exporter of the servers: none, console, or otlp "
                                 "(needs opentelemetry-exporter-otlp and OTEL_EXPORTER_OTLP_ENDPOINT)"},
    )
    resource_url: str | None = attrs.field(
        default=None,
        metadata={"description": "this server's public URL (OAuth protected-resource metadata); "
                                 "derived from the request when unset"},
    )
    # -- cost bounds: checked before any work (neural_trader.bounds); raise them on purpose ---------
    max_bars: int = attrs.field(
        default=2_000_000, converter=int, validator=attrs.validators.ge(1),
        metadata={"description": "bars one request may fetch or generate per symbol (counted before "
                                 "fetching: exactly where the source can count, else the window's "
                                 "length in bar lengths)", "bound": True},
    )
    max_symbols: int = attrs.field(
        default=100, converter=int, validator=attrs.validators.ge(1),
        metadata={"description": "symbols one request may name", "bound": True},
    )
    max_combinations: int = attrs.field(
        default=10_000, converter=int, validator=attrs.validators.ge(1),
        metadata={"description": "parameter sets one search may try (grid size, n_trials)", "bound": True},
    )
    max_backtests: int = attrs.field(
        default=100_000, converter=int, validator=attrs.validators.ge(1),
        metadata={"description": "backtests one request may run (walk-forward: parameter sets x splits)",
                  "bound": True},
    )
    max_splits: int = attrs.field(
        default=100, converter=int, validator=attrs.validators.ge(1),
        metadata={"description": "walk-forward splits one request may ask for", "bound": True},
    )
    max_monte_carlo: int = attrs.field(
        default=100_000, converter=int, validator=attrs.validators.ge(1),
        metadata={"description": "Monte Carlo samples one request may ask for", "bound": True},
    )
    max_workers: int = attrs.field(
        default=0, converter=int, validator=attrs.validators.ge(0),
        metadata={"description": "parallel workers one request may ask for (0: the CPUs of this machine)",
                  "bound": True},
    )
    plugins: Mapping[str, Mapping[str, Any]] = attrs.field(
        factory=dict, repr=False, metadata={"description": "per-plugin values, [plugins.<name>] in TOML"},
    )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'neural-trader.db'}"

    def plugin(self, name: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A plugin's settings: ``[plugins.<name>]`` overlaid by ``NT_<NAME>_<KEY>`` variables."""
        env = os.environ if env is None else env
        values = dict(self.plugins.get(name, {}))
        prefix = f"NT_{name.upper()}_"
        values.update({k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix)})
        return values

    def public(self) -> dict[str, Any]:
        """A dict safe to print or return: secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for field in attrs.fields(Settings):
            value = getattr(self, field.name)
            if field.metadata.get("url"):
                value = _mask_url(value)
            elif field.metadata.get("secret"):
                value = "***" if value else value
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            if field.name == "plugins":
                value = {plugin: _mask_plugin_value("", values) for plugin, values in value.items()}
            out[field.name] = value
        out["effective_database_url"] = _mask_url(self.effective_database_url)
        return out


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the TOML file and the environment, then ``overrides``."""
    env = os.environ if env is None else env
    config_path = Path(env["NT_CONFIG"]) if env.get("NT_CONFIG") else default_config_file()
    file_values: dict[str, Any] = {}
    if config_path.is_file():
        try:
            file_values = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise NtUserError(f"config file {config_path} is not valid TOML: {exc}") from None
    else:
        config_path = None  # type: ignore[assignment]

    names = {f.name for f in attrs.fields(Settings)} - {"config_file", "plugins"}
    unknown = set(file_values) - names - {"plugins"}
    if unknown:
        raise NtUserError(
            f"config file {config_path}: unknown keys {sorted(unknown)}; known: {sorted(names | {'plugins'})}"
        )
    values: dict[str, Any] = {k: v for k, v in file_values.items() if k in names}
    for name in names:
        env_value = env.get(f"NT_{name.upper()}")
        if env_value is not None:
            values[name] = env_value
    plugins: dict[str, dict[str, Any]] = {k: dict(v) for k, v in file_values.get("plugins", {}).items()}
    values.setdefault("data_dir", env.get("NT_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))
    values.update(overrides)
    values["config_file"] = config_path
    values["plugins"] = plugins
    try:
        return Settings(**values)
    except (TypeError, ValueError) as exc:
        raise NtUserError(f"invalid settings: {exc}") from None


def plugin_env(settings: Settings, plugin: str, key: str, env: Mapping[str, str] | None = None) -> str | None:
    """One plugin value: ``NT_<PLUGIN>_<KEY>`` from the environment, else ``[plugins.<plugin>] key``."""
    env = os.environ if env is None else env
    value = env.get(f"NT_{plugin.upper()}_{key.upper()}")
    if value is not None:
        return value
    found = settings.plugins.get(plugin, {}).get(key)
    return None if found is None else str(found)
