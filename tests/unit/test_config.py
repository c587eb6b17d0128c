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


def test_the_declared_defaults_are_the_dataclass_defaults():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"FLASHSALE_STOCK": "  ", "FLASHSALE_DB": ""}) == Settings()


def test_nested_and_listed_settings_are_read_and_typed():
    settings = Settings.from_env(
        {
            "FLASHSALE_BREAKER_PROBES": "5",
            "FLASHSALE_BREAKER_COOLDOWN_S": "0.5",
            "FLASHSALE_FORWARDED_ALLOW_IPS": " 10.0.0.0/8, ::1 ,",
            "FLASHSALE_DB": "/tmp/sale.db",
            "FLASHSALE_LOG_LEVEL": "debug",
        }
    )
    assert (settings.breaker.probes, settings.breaker.cooldown_s) == (5, 0.5)
    assert settings.breaker.window_s == Settings().breaker.window_s
    assert settings.forwarded_allow_ips == ("10.0.0.0/8", "::1")
    assert (str(settings.db_path), settings.log_level) == ("/tmp/sale.db", "debug")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"FLASHSALE_BREAKER_WINDOW_S": "61"},
            "FLASHSALE_BREAKER_WINDOW_S=61 is out of range [1, 60]",
        ),
        ({"FLASHSALE_STOCK": "10000001"}, "FLASHSALE_STOCK=10000001 is out of range [0, 10000000]"),
        ({"FLASHSALE_RATE_LIMIT": "0"}, "FLASHSALE_RATE_LIMIT=0 is out of range [1, 1000000]"),
        ({"FLASHSALE_BREAKER_SILENCE_S": "x"}, "FLASHSALE_BREAKER_SILENCE_S='x' is not a number"),
        ({"FLASHSALE_LOG_LEVEL": "loud"}, "FLASHSALE_LOG_LEVEL='loud' is not valid"),
        (
            {"FLASHSALE_FORWARDED_ALLOW_IPS": "proxy"},
            "FLASHSALE_FORWARDED_ALLOW_IPS='proxy' is not valid",
        ),
        (
            {"FLASHSALE_OPERATOR_TOKEN": "1234567"},
            "FLASHSALE_OPERATOR_TOKEN must be at least 8 characters",
        ),
        (
            {"FLASHSALE_COMMIT_BUDGET_S": "2", "FLASHSALE_REPLY_TIMEOUT_S": "2"},
            "FLASHSALE_COMMIT_BUDGET_S must be smaller than FLASHSALE_REPLY_TIMEOUT_S",
        ),
    ],
)
def test_every_kind_of_setting_names_its_variable(environ, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        Settings.from_env(environ)


def test_validate_checks_settings_built_without_the_environment():
    with pytest.raises(ConfigError, match="FLASHSALE_ADMIN_TOKEN must be at least 8"):
        Settings(admin_token="short").validate()


SECRET = "s" * 32


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FLASHSALE_AUTH": "jwt"}, "needs exactly one of FLASHSALE_JWT_SECRET and"),
        (
            {
                "FLASHSALE_AUTH": "jwt",
                "FLASHSALE_JWT_SECRET": SECRET,
                "FLASHSALE_JWT_JWKS_FILE": "keys.json",
            },
            "needs exactly one of",
        ),
        ({"FLASHSALE_JWT_SECRET": "s" * 31}, "FLASHSALE_JWT_SECRET must be at least 32"),
        ({"FLASHSALE_JWT_ALGORITHMS": "none"}, "FLASHSALE_JWT_ALGORITHMS='none' is not valid"),
        ({"FLASHSALE_JWT_ALGORITHMS": "HS256,RS256"}, "is not valid"),  # never mixed
        (
            {
                "FLASHSALE_AUTH": "jwt",
                "FLASHSALE_JWT_SECRET": SECRET,
                "FLASHSALE_JWT_ALGORITHMS": "RS256",
            },
            "does not suit a secret",
        ),
        ({"FLASHSALE_AUTH": "oauth"}, "FLASHSALE_AUTH='oauth' is not valid"),
    ],
)
def test_jwt_settings_that_cannot_work_stop_the_start(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(environ)


def test_the_accepted_algorithms_follow_the_key_never_a_token():
    with_secret = Settings.from_env({"FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_SECRET": SECRET})
    assert with_secret.accepted_algorithms() == ["HS256"]
    with_keys = Settings.from_env({"FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_JWKS_FILE": "k.json"})
    assert with_keys.accepted_algorithms() == ["ES256", "RS256"]


WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes


def test_webhooks_are_off_without_a_url_and_need_a_whsec_secret_with_one():
    assert Settings.from_env({}).webhooks_on is False
    on = Settings.from_env(
        {
            "FLASHSALE_WEBHOOK_URL": "https://shop.example/hooks",
            "FLASHSALE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    assert on.webhooks_on and on.webhook_max_age_s >= 86_400
    with pytest.raises(ConfigError, match="FLASHSALE_WEBHOOK_URL needs FLASHSALE_WEBHOOK_SECRET"):
        Settings.from_env({"FLASHSALE_WEBHOOK_URL": "https://shop.example/hooks"})
    with pytest.raises(ConfigError, match="FLASHSALE_WEBHOOK_URL"):
        Settings.from_env({"FLASHSALE_WEBHOOK_URL": "ftp://shop.example/"})


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_" + "not base64 at all, really not base64!!",
        "whsec_" + "c2hvcnQ=" * 5,  # padding inside: not one base64 text
        "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVg==",  # 22 bytes: too short
    ],
)
def test_a_webhook_secret_that_is_not_whsec_base64_is_refused_without_echoing_it(secret):
    with pytest.raises(ConfigError, match="FLASHSALE_WEBHOOK_SECRET must be `whsec_`") as caught:
        Settings.from_env(
            {"FLASHSALE_WEBHOOK_URL": "http://127.0.0.1:9/h", "FLASHSALE_WEBHOOK_SECRET": secret}
        )
    assert secret not in str(caught.value)


def test_webhooks_are_sent_in_the_redis_engine_too():
    settings = Settings.from_env(
        {
            "FLASHSALE_ENGINE": "redis",
            "FLASHSALE_WEBHOOK_URL": "http://127.0.0.1:9/h",
            "FLASHSALE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    assert settings.webhooks_on and settings.engine == "redis"
