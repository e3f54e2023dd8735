"""Settings: TOML file, NT_* environment, precedence, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_trader.errors import NtUserError
from neural_trader.settings import load_settings, plugin_env


def test_environment_overrides_the_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'redis_url = "redis://file:6379/0"\nlog_level = "INFO"\nauth = false\n'
        '[plugins.alpaca]\napi_key = "AKFILE"\nfeed = "iex"\n'
    )
    env = {"NT_CONFIG": str(config), "NT_REDIS_URL": "redis://env:6379/1", "NT_DATA_DIR": str(tmp_path),
           "NT_ALPACA_API_KEY": "AKENV"}
    settings = load_settings(env)
    assert settings.config_file == config
    assert settings.redis_url == "redis://env:6379/1"
    assert settings.log_level == "INFO" and settings.auth is False
    assert settings.data_dir == tmp_path
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'neural-trader.db'}"
    assert plugin_env(settings, "alpaca", "api_key", env) == "AKENV"
    assert plugin_env(settings, "alpaca", "feed", env) == "iex"
    assert plugin_env(settings, "alpaca", "missing", env) is None


def test_secrets_are_masked_in_repr_and_public_view(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[plugins.alpaca]\napi_key = "AKSECRET123"\nfeed = "sip"\n')
    settings = load_settings({"NT_CONFIG": str(config), "NT_DATA_DIR": str(tmp_path),
                              "NT_DATABASE_URL": "postgresql+psycopg://trader:hunter2@db:5432/nt"})
    public = settings.public()
    text = repr(settings) + repr(public)
    assert "hunter2" not in text and "AKSECRET123" not in text
    assert public["database_url"] == "postgresql+psycopg://trader:***@db:5432/nt"
    assert public["plugins"]["alpaca"] == {"api_key": "***", "feed": "sip"}


def test_bad_config_files_name_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("datbase_url = 'x'\n")
    with pytest.raises(NtUserError, match=r"unknown keys \['datbase_url'\]"):
        load_settings({"NT_CONFIG": str(config)})
    config.write_text("not toml ===")
    with pytest.raises(NtUserError, match="not valid TOML"):
        load_settings({"NT_CONFIG": str(config)})
    with pytest.raises(NtUserError, match="expected a boolean"):
        load_settings({"NT_AUTH": "maybe", "NT_CONFIG": str(tmp_path / "none.toml")})


def test_list_settings_split_on_commas(tmp_path: Path) -> None:
    settings = load_settings({"NT_ALLOWED_HOSTS": "a.example, b.example", "NT_CONFIG": str(tmp_path / "x")})
    assert settings.allowed_hosts == ("a.example", "b.example")


def test_plugin_values_overlay_environment_on_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[plugins.alpaca]\napi_key = "file"\nfeed = "iex"\n')
    settings = load_settings({"NT_CONFIG": str(config)})
    assert settings.plugin("alpaca", env={"NT_ALPACA_API_KEY": "env", "NT_OTHER_X": "1"}) == {
        "api_key": "env", "feed": "iex"}
