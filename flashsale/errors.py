"""Domain errors. They never import falcon: `flashsale.api.error_handlers` maps them to HTTP."""

from __future__ import annotations


class FlashSaleError(Exception):
    """Base of the errors a purchase or an operator request can end in."""


class ConfigError(FlashSaleError):
    """A setting is invalid; the message names the variable."""


class InvalidInput(FlashSaleError):
    """A request's body, or a value in it, is refused (nothing is changed): `title`
    names what, `description` says why. The subclasses say which kind of input."""

    def __init__(self, title: str, description: str) -> None:
        super().__init__(f"{title}: {description}")
        self.title = title
        self.description = description


class InvalidJson(InvalidInput):
    """The body is not JSON this service reads."""


class InvalidUserId(InvalidInput):
    """A userId is refused (flashsale.user_ids)."""


class InvalidSku(InvalidInput):
    """A purchase's sku is refused, or missing where the sale needs one."""


class InvalidSale(InvalidInput):
    """A new sale's terms are refused (the admin API, the catalogue)."""


class JournalLocked(FlashSaleError):
    """Another server (or allocator) already serves this journal."""


class Unavailable(FlashSaleError):
    """A part the answer needs (the journal, a shared lock) did not answer in time.

    Nothing was changed: the client may try again (503 with Retry-After).
    """
