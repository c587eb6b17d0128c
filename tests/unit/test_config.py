from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from flashsale.config import DEFAULT_WORKERS, Settings
from flashsale.errors import ConfigError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.bind == "127.0.0.1:8000"
    assert settings.workers == DEFAULT_WORKERS
    assert (settings.stock, settings.per_user_limit) == (100, 1)
    assert settings.starts_at is settings.ends_at is None
    assert settings.admin_token is None


def test_values_are_read_and_typed():
    settings = Settings.from_env(
        {
            "FLASHSALE_BIND": "0.0.0.0:9000",
            "WEB_CONCURRENCY": "4",
            "FLASHSALE_STOCK": "7",
            "FLASHSALE_STARTS_AT": "2030-01-01T10:00:00Z",
            "FLASHSALE_ENDS_AT": "2030-01-01T12:00:00+01:00",
            "FLASHSALE_ADMIN_TOKEN": "long-enough-token",
        }
    )
    assert (settings.bind, settings.workers, settings.stock) == ("0.0.0.0:9000", 4, 7)
    assert settings.starts_at == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert settings.ends_at == datetime(2030, 1, 1, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FLASHSALE_STOCK", "many", "FLASHSALE_STOCK='many' is not an integer"),
        ("FLASHSALE_STOCK", "-1", "FLASHSALE_STOCK=-1 is out of range"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY=0 is out of range"),
        ("FLASHSALE_PER_USER_LIMIT", "1.5", "FLASHSALE_PER_USER_LIMIT='1.5' is not an integer"),
        ("FLASHSALE_STARTS_AT", "tomorrow", "FLASHSALE_STARTS_AT='tomorrow' is not an ISO-8601"),
        (
            "FLASHSALE_ENDS_AT",
            "0001-01-01T00:00:00+14:00",
            "FLASHSALE_ENDS_AT=0001-01-01T00:00:00+14:00 is not between 1970",
        ),
        ("FLASHSALE_BIND", "nowhere", "FLASHSALE_BIND='nowhere' is not valid"),
        ("FLASHSALE_ADMIN_TOKEN", "short", "FLASHSALE_ADMIN_TOKEN must be at least 8"),
        ("FLASHSALE_REPLY_TIMEOUT_S", "0", "FLASHSALE_REPLY_TIMEOUT_S=0.0 is out of range"),
    ],
)
def test_a_bad_value_names_its_variable(name, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env({name: value})


def test_an_end_before_the_start_is_refused():
    with pytest.raises(ConfigError, match="FLASHSALE_ENDS_AT must be later"):
        Settings.from_env(
            {"FLASHSALE_STARTS_AT": "2030-01-02T00:00:00Z", "FLASHSALE_ENDS_AT": "2030-01-01"}
        )


def test_the_read_deadlines_have_defaults_and_bounds():
    settings = Settings.from_env({})
    assert (settings.header_timeout_s, settings.body_timeout_s) == (10.0, 10.0)
    assert Settings.from_env({"FLASHSALE_BODY_TIMEOUT_S": "2.5"}).body_timeout_s == 2.5
    with pytest.raises(ConfigError, match=r"FLASHSALE_HEADER_TIMEOUT_S=0.1 is out of range"):
        Settings.from_env({"FLASHSALE_HEADER_TIMEOUT_S": "0.1"})


def test_a_retired_setting_is_refused_with_what_replaced_it():
    with pytest.raises(ConfigError, match=r"^FLASHSALE_THREADS is no longer used: .*CONNECTIONS"):
        Settings.from_env({"FLASHSALE_THREADS": "16"})
    Settings.from_env({"FLASHSALE_THREADS": " "})  # set but empty: as if unset
