"""Settings: environment variables with defaults, overridden by the factory's mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmstack_web.config import ConfigError, load_settings


def test_defaults_when_the_environment_is_empty() -> None:
    settings = load_settings(environ={})
    assert (settings.redis_host, settings.redis_port, settings.redis_db) == ("redis", 6379, 0)
    assert settings.redis_socket_timeout == settings.redis_connect_timeout == 2.0
    assert (settings.counter_key, settings.name, settings.data_file) == ("counter", "World", "")
    assert settings.data_key_prefix == "meteorite:"
    assert settings.redis_password() is None


def test_environment_then_mapping() -> None:
    environ = {"REDIS_HOST": "db", "REDIS_PORT": "6380", "NAME": "Env", "DATA_MAX_BYTES": ""}
    settings = load_settings({"NAME": "Mapping", "redis_db": 2}, environ=environ)
    assert (settings.redis_host, settings.redis_port, settings.redis_db) == ("db", 6380, 2)
    assert settings.name == "Mapping"
    assert settings.data_max_bytes == 64 * 1024 * 1024  # empty means default


def test_link_style_redis_port() -> None:
    assert load_settings(environ={"REDIS_PORT": "tcp://10.0.0.5:6390"}).redis_port == 6390


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REDIS_PORT": "sixty"}, "REDIS_PORT='sixty' is not a valid int"),
        ({"REDIS_SOCKET_TIMEOUT": "0"}, "REDIS_SOCKET_TIMEOUT must be a positive"),
        ({"DATA_KEY_PREFIX": ""}, "DATA_KEY_PREFIX must not be empty"),
        ({"REDIS_SENTINELS": "sentinel"}, "REDIS_SENTINELS=.sentinel.: each entry must be"),
        ({"REDIS_SENTINELS": "a:26379,b:port"}, "each entry must be host:port"),
        ({"REDIS_SENTINELS": ":26379"}, "each entry must be host:port"),
        ({"REDIS_MIN_REPLICAS": "-1"}, "REDIS_MIN_REPLICAS must be 0 or more"),
        ({"REDIS_WAIT_TIMEOUT": "0"}, "REDIS_WAIT_TIMEOUT a positive number"),
        (
            {"REDIS_MIN_REPLICAS": "1", "REDIS_WAIT_TIMEOUT": "2"},
            "REDIS_WAIT_TIMEOUT=2 must be less than REDIS_SOCKET_TIMEOUT=2",
        ),
        ({"REDIS_VISIT_TRIES": "0"}, "REDIS_VISIT_TRIES must be 1 or more"),
        ({"REDIS_RETRY_PAUSE": "-1"}, "REDIS_RETRY_PAUSE 0 or more"),
        ({"DATA_PARSER": "lua"}, "DATA_PARSER='lua': say 'redis' or 'python'"),
    ],
)
def test_bad_values_say_which_setting(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, environ={})


def test_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text("s3cret\n", encoding="utf-8")
    assert load_settings(environ={"REDIS_PASSWORD_FILE": str(secret)}).redis_password() == "s3cret"
    secret.write_text("", encoding="utf-8")
    assert load_settings(environ={"REDIS_PASSWORD_FILE": str(secret)}).redis_password() is None
    missing = str(tmp_path / "absent")
    assert load_settings(environ={"REDIS_PASSWORD_FILE": missing}).redis_password() is None


def test_internal_keys_never_start_with_the_record_prefix() -> None:
    for prefix in ("meteorite:", "m", "x@"):
        settings = load_settings({"DATA_KEY_PREFIX": prefix}, environ={})
        assert not settings.data_index_key.startswith(prefix)
        assert not settings.data_load_key_prefix.startswith(prefix)


def test_sentinel_addresses() -> None:
    settings = load_settings({"REDIS_SENTINELS": " sentinel:26379, 10.0.0.2:26380 ,"}, environ={})
    assert settings.sentinel_addresses() == [("sentinel", 26379), ("10.0.0.2", 26380)]
    assert "Sentinels" in settings.redis_description()
    assert load_settings({}, environ={}).sentinel_addresses() == []
