"""Errors a user can act on, one class per thing to fix (treasure-data.md §5).

Messages name the request by method and path only (never a query string) and never contain a key:
the client scrubs every registered secret out of server-supplied text before it gets here.
"""

from __future__ import annotations

from typing import ClassVar

LOSS_WINDOW_HINT = (
    "Braze drops events it could not deliver after 48 hours, so fix this before the backlog ages out."
)


class TDError(Exception):
    """Base class. `permanent` says whether retrying the same call later can succeed without a fix."""

    permanent: ClassVar[bool] = True

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class TDAuthError(TDError):
    """401/403: wrong key, wrong region/URL for the key, or a key without the needed permission."""


class TDNotFoundError(TDError):
    """404: the database or table does not exist."""


class TDBadRequestError(TDError):
    """400/422 (and other 4xx): the request or one of its records is malformed."""


class TDPayloadTooLargeError(TDError):
    """413: the request body is too big; the sinks split the batch and resend."""


class TDConflictError(TDError):
    """409: the database or table already exists; create calls treat it as success."""


class TDTransientError(TDError):
    """429/5xx/connection failures that outlasted the retry policy; a later task try may succeed."""

    permanent: ClassVar[bool] = False


class TDIntegrityError(TDError):
    """The server's `md5_hex` of an import differs from the body sent: the upload was corrupted."""


class TDProtocolError(TDError):
    """A reply that does not follow the documented protocol (unexpected status or body)."""


class TDInvalidNameError(TDError, ValueError):
    """A database or table name Treasure Data would refuse."""


def error_for_status(status: int, request: str, detail: str, *, where: str, target: str = "") -> TDError:
    """The typed error for a 4xx/3xx reply. `request` is "METHOD /path", `where` the region or host."""
    said = f": {detail}" if detail else ""
    subject = target or "the database or table"
    if status in (401, 403):
        return TDAuthError(
            f"Treasure Data refused the key (HTTP {status} on {request}){said}. Check that the connection "
            "password holds the right key (`<account id>/<40 hex>`), that it belongs to this account's "
            f"{where} (a key from another region or a mistyped host URL is refused), and that it has "
            f"permission for {subject} (a write-only key can send rows but cannot create or list databases "
            f"and tables). {LOSS_WINDOW_HINT}",
            status=status,
            detail=detail,
        )
    if status == 404:
        return TDNotFoundError(
            f"Treasure Data has no {subject} (HTTP 404 on {request}, {where}){said}. Create it in the "
            "Treasure Data console, or let the sink create it with create_table=True (needs a master key).",
            status=status,
            detail=detail,
        )
    if status == 409:
        return TDConflictError(f"{subject} already exists (HTTP 409 on {request}){said}", status=status, detail=detail)
    if status == 413:
        return TDPayloadTooLargeError(
            f"request too large (HTTP 413 on {request}){said}", status=status, detail=detail
        )
    if 400 <= status < 500:
        return TDBadRequestError(
            f"Treasure Data rejected the request as malformed (HTTP {status} on {request}){said}",
            status=status,
            detail=detail,
        )
    return TDProtocolError(
        f"unexpected HTTP {status} from Treasure Data on {request} ({where}){said}. A redirect usually "
        "means a wrong region or host URL.",
        status=status,
        detail=detail,
    )
