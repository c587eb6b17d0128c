"""Domain errors. They never import falcon: `flashsale.api.error_handlers` maps them to HTTP."""

from __future__ import annotations


class FlashSaleError(Exception):
    """Base of the errors a purchase or an operator request can end in."""


class ConfigError(FlashSaleError):
    """A setting is invalid; the message names the variable."""


class InvalidInput(FlashSaleError):
    def __init__(self, title: str, description: str) -> None:
        super().__init__(f"{title}: {description}")
        self.title = title
        self.description = description


class JournalLocked(FlashSaleError):
    """Another server (or allocator) already serves this journal."""


class Unavailable(FlashSaleError):
    """A part the answer needs (the journal, a shared lock) did not answer in time.

    Nothing was changed: the client may try again (503 with Retry-After).
    """
