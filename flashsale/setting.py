"""What a setting is: its variable, how its text is read and checked, and its doc line.

`flashsale.config.Settings` declares each of its fields with one of these (in the
field's metadata), the way gunicorn's `Setting` classes do; `Settings.from_env`
reads them and `scripts/settings_doc.py` writes docs/configuration.md's table from them.
Nothing here reads `os.environ`: the environment comes in as a mapping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flashsale.clock import RANGE_TEXT, instant_us, representable
from flashsale.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")
# The key of a dataclass field's metadata that holds its declaration.
DECLARATION = "flashsale.setting"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable and its doc line; subclasses parse and check its text."""

    env: str
    doc: str
    unset: str = ""  # what leaving it unset means, when its default is None

    def value(self, environ: Mapping[str, str], default: T) -> T:
        """The variable's value, or `default` when it is unset or blank."""
        text = environ.get(self.env, "").strip()
        return default if text == "" else self.parse(text)

    def parse(self, text: str) -> T:
        raise NotImplementedError

    def rule(self) -> str:
        """The bounds or form of a valid value, for the docs ("" when any text will do)."""
        return ""

    def _converted(self, text: str, convert: Callable[[str], T], what: str) -> T:
        try:
            return convert(text)
        except ValueError:
            raise ConfigError(f"{self.env}={text!r} is not {what}") from None


@dataclass(frozen=True, kw_only=True)
class Text(Setting[str]):
    check: Callable[[str], bool] | None = None
    form: str = ""  # what `check` accepts, for the docs

    def parse(self, text: str) -> str:
        if self.check is not None and not self.check(text):
            raise ConfigError(f"{self.env}={text!r} is not valid")
        return text

    def rule(self) -> str:
        return self.form


@dataclass(frozen=True, kw_only=True)
class Choice(Setting[str]):
    words: tuple[str, ...]

    def parse(self, text: str) -> str:
        if text not in self.words:
            raise ConfigError(f"{self.env}={text!r} is not valid")
        return text

    def rule(self) -> str:
        quoted = [f"`{word}`" for word in self.words]
        return ", ".join(quoted[:-1]) + " or " + quoted[-1]


@dataclass(frozen=True, kw_only=True)
class Integer(Setting[int]):
    low: int
    high: int

    def parse(self, text: str) -> int:
        number = self._converted(text, int, "an integer")
        if not self.low <= number <= self.high:
            raise ConfigError(f"{self.env}={number} is out of range [{self.low}, {self.high}]")
        return number

    def rule(self) -> str:
        return f"{self.low:,} to {self.high:,}"


@dataclass(frozen=True, kw_only=True)
class Number(Setting[float]):
    low: float
    high: float

    def parse(self, text: str) -> float:
        number = self._converted(text, float, "a number")
        if not self.low <= number <= self.high:
            raise ConfigError(f"{self.env}={number} is out of range [{self.low}, {self.high}]")
        return number

    def rule(self) -> str:
        return f"{self.low:,} to {self.high:,}"


@dataclass(frozen=True)
class Instant(Setting[datetime]):
    def parse(self, text: str) -> datetime:
        moment = self._converted(text, parse_instant, "an ISO-8601 time")
        if not representable(instant_us(moment)):
            raise ConfigError(f"{self.env}={moment.isoformat()} is not {RANGE_TEXT}")
        return moment

    def rule(self) -> str:
        return f"ISO-8601, {RANGE_TEXT}"


@dataclass(frozen=True)
class FilePath(Setting[Path]):
    def parse(self, text: str) -> Path:
        return Path(text)


@dataclass(frozen=True, kw_only=True)
class Token(Setting[str]):
    """A secret; its length is checked by `Settings.validate`, which also sees built settings."""

    min_chars: int = 8

    def parse(self, text: str) -> str:
        return text

    def rule(self) -> str:
        return f"{self.min_chars}+ characters"


@dataclass(frozen=True)
class AddressList(Setting[tuple[str, ...]]):
    """Comma-separated addresses or networks, or '*': what gunicorn's forwarded_allow_ips takes."""

    def parse(self, text: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        try:
            for item in items:
                if item != "*":
                    ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{self.env}={text!r} is not valid") from None
        return items

    def rule(self) -> str:
        return "comma-separated addresses or networks, or `*`"


@dataclass(frozen=True)
class Group(Generic[D]):
    """The settings of a nested dataclass (its defaults stay with it), one per field."""

    kind: type[D]
    members: Mapping[str, Setting[Any]]

    def value(self, environ: Mapping[str, str], default: D) -> D:
        return self.kind(
            **{
                name: member.value(environ, getattr(default, name))
                for name, member in self.members.items()
            }
        )


def setting(default: T, declaration: Setting[T]) -> T:
    """A dataclass field read from `declaration`'s variable, `default` when unset."""
    return field(default=default, metadata={DECLARATION: declaration})


def optional(declaration: Setting[T]) -> T | None:
    """A dataclass field read from `declaration`'s variable, None when unset."""
    return field(default=None, metadata={DECLARATION: declaration})


def group(kind: type[D], **members: Setting[Any]) -> D:
    """A nested dataclass field whose every field is read from one member's variable."""
    if set(members) != {member.name for member in fields(kind)}:
        raise TypeError(f"a group of {kind.__name__} must declare each of its fields once")
    return field(default=kind(), metadata={DECLARATION: Group(kind, members)})


def read(kind: type[D], environ: Mapping[str, str]) -> D:
    """An instance of `kind` with every declared field read from `environ`."""
    values = {
        item.name: item.metadata[DECLARATION].value(environ, item.default) for item in fields(kind)
    }
    return kind(**values)


def declarations(kind: type[DataclassInstance]) -> Iterator[tuple[str, Setting[Any], Any]]:
    """(attribute path, declaration, default) of every setting of `kind`, in order."""
    for item in fields(kind):
        declared = item.metadata[DECLARATION]
        if isinstance(declared, Group):
            for name, member in declared.members.items():
                yield f"{item.name}.{name}", member, getattr(item.default, name)
        else:
            yield item.name, declared, item.default


def parse_instant(text: str) -> datetime:
    """ISO-8601 with a zone (or `Z`); a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
