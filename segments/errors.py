"""Domain errors: the one family of exceptions that services raise.

Each error carries the Midaz code, HTTP status and title of ``shared/spec/api.md``
so that the API renders it as a problem document and the console as a field
error or a toast, without either matching on message text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_noop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Failures that mean "the database cannot be reached right now" (including a pool that
# cannot hand out a connection in time, and the shared Redis cache of ``REDIS_URL``, which
# holds the API throttle and the sign-in limit): answered 503 so that clients retry. A
# lock conflict is an OperationalError too, but not an outage: see ``database_error``.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)

# SQLSTATEs of a transaction that lost a race for locks (serialization_failure,
# deadlock_detected, lock_not_available): the database is up, the change may be retried.
LOCK_CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


class DomainError(Exception):
    """A refused operation. Nothing was written when one of these is raised."""

    code: ClassVar[str] = "9999"
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = gettext_noop("Internal Server Error")
    default_message: ClassVar[str] = "The request could not be processed."
    # True where ``fields`` name what the client sent (a query parameter, a path in the
    # body) rather than model fields, which the API renames to its camelCase.
    fields_named_as_sent: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        entity_type: str | None = None,
        fields: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.entity_type = entity_type
        self.fields = dict(fields or {})
        self.values = dict(values or {})
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message!r}, fields={self.fields!r})"


# One class per Midaz code, in code order. They are alike line for line on purpose: each
# is a row of the code table that callers raise and catch by name (``except
# errors.SegmentNotFound``), so a table of values built into classes would hide them.


class LedgerNameConflict(DomainError):
    code, http_status, title = "0002", 409, gettext_noop("Ledger Name Conflict")
    default_message = "A ledger with this name already exists in this organization."


class EntityNotFound(DomainError):
    code, http_status, title = "0007", 404, gettext_noop("Entity Not Found")
    default_message = "No entity was found for the given ID."


class MissingFields(DomainError):
    code, http_status, title = "0009", 400, gettext_noop("Missing Fields in Request")
    default_message = "Your request is missing one or more required fields."

    @classmethod
    def naming(cls, missing: Iterable[str], *, entity_type: str | None = None) -> MissingFields:
        """The error that names ``missing`` (in that order), each one ``required``."""
        names = list(missing)
        return cls(
            f"Missing required fields: {', '.join(names)}.",
            entity_type=entity_type,
            fields={name: "required" for name in names},
        )


class SegmentNotActive(DomainError):
    code, http_status, title = "0014", 422, gettext_noop("Segment Not Active")
    default_message = "The segment is not ACTIVE; only active segments accept members."


class DuplicateSegmentName(DomainError):
    code, http_status, title = "0015", 409, gettext_noop("Duplicate Segment Name Error")
    default_message = "A segment with this name already exists in this scope."


class DuplicateAlias(DomainError):
    code, http_status, title = "0020", 409, gettext_noop("Alias Unavailability Error")
    default_message = "An account with this alias already exists in this ledger."


class PortfolioNotFound(DomainError):
    code, http_status, title = "0035", 404, gettext_noop("Portfolio ID Not Found")
    default_message = "The portfolio was not found in this ledger."


class SegmentNotFound(DomainError):
    code, http_status, title = "0036", 404, gettext_noop("Segment ID Not Found")
    default_message = "The segment was not found in this ledger or organization."


class LedgerNotFound(DomainError):
    code, http_status, title = "0037", 404, gettext_noop("Ledger ID Not Found")
    default_message = "The ledger was not found."


class OrganizationNotFound(DomainError):
    code, http_status, title = "0038", 404, gettext_noop("Organization ID Not Found")
    default_message = "The organization was not found."


class InvalidField(DomainError):
    code, http_status, title = "0047", 400, gettext_noop("Bad Request")
    default_message = "One or more fields break a rule."


class InvalidParameters(InvalidField):
    """0047 on a benefit's ``parameters``: the fields are the paths sent
    (``parameters.percentage``)."""

    fields_named_as_sent = True


class InvalidRule(InvalidField):
    """0047 on a segment rule's ``expression``, raised before any SQL runs: the message
    names the line, the column and the token, which the error also keeps for the console
    to point at."""

    fields_named_as_sent = True
    default_message = "The rule is not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        line: int | None = None,
        column: int | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.line, self.column, self.token = line, column, token


class MetadataKeyTooLong(DomainError):
    code, http_status, title = "0050", 400, gettext_noop("Metadata Key Length Exceeded")
    default_message = "A metadata key is longer than 100 characters."


class MetadataValueTooLong(DomainError):
    code, http_status, title = "0051", 400, gettext_noop("Metadata Value Length Exceeded")
    default_message = "A metadata value is longer than 2000 characters."


class UnexpectedFields(DomainError):
    code, http_status, title = "0053", 400, gettext_noop("Unexpected Fields in the Request")
    default_message = "The request contains fields that are unknown or read-only."


class UnexpectedParameters(UnexpectedFields):
    """0053 on a benefit's ``parameters``: the fields are the paths sent."""

    fields_named_as_sent = True


class InvalidPathParameter(DomainError):
    code, http_status, title = "0065", 400, gettext_noop("Invalid Path Parameter")
    default_message = "A path parameter is not a valid UUID."


class NestedMetadata(DomainError):
    code, http_status, title = "0067", 400, gettext_noop("Invalid Metadata Nesting")
    default_message = "Metadata values must be flat: objects and arrays are not allowed."


class LimitTooLarge(DomainError):
    code, http_status, title = "0080", 400, gettext_noop("Pagination Limit Exceeded")
    default_message = "The limit may not exceed 100."


class InvalidSortOrder(DomainError):
    code, http_status, title = "0081", 400, gettext_noop("Invalid Sort Order")
    default_message = "sort_order must be 'asc' or 'desc'."


class MalformedQuery(DomainError):
    code, http_status, title = "0082", 400, gettext_noop("Invalid Query Parameter")
    default_message = "A query parameter is malformed."
    fields_named_as_sent = True


class InvalidDateRange(DomainError):
    code, http_status, title = "0083", 400, gettext_noop("Invalid Date Range")
    default_message = (
        "start_date and end_date must both be given as YYYY-MM-DD, with start_date "
        "not after end_date."
    )


class InvalidJSON(DomainError):
    code, http_status, title = "0094", 400, gettext_noop("Invalid Request Body")
    default_message = "The request body is not valid JSON."
    fields_named_as_sent = True


class RouteNotFound(DomainError):
    code, http_status, title = "0484", 404, gettext_noop("Route Not Found")
    default_message = "No API route matches this method and path."


class SegmentHasMembers(DomainError):
    code, http_status, title = "9001", 409, gettext_noop("Segment Has Members")
    default_message = "The segment still has members."


class HasLiveChildren(DomainError):
    code, http_status, title = "9002", 409, gettext_noop("Entity Has Children")
    default_message = "The entity still holds live children."


class NotAuthenticated(DomainError):
    code, http_status, title = "9003", 401, gettext_noop("Unauthorized")
    default_message = "Authentication credentials are missing or invalid."


class PermissionDenied(DomainError):
    code, http_status, title = "9004", 403, gettext_noop("Forbidden")
    default_message = "Your role in this organization does not allow this action."


class TooManyRequests(DomainError):
    code, http_status, title = "9005", 429, gettext_noop("Too Many Requests")
    default_message = "Too many requests; retry later."


class PreconditionFailed(DomainError):
    code, http_status, title = "9006", 412, gettext_noop("Precondition Failed")
    default_message = "The entity changed since you read it (If-Match does not match the ETag)."


class IdempotencyConflict(DomainError):
    code, http_status, title = "9007", 409, gettext_noop("Idempotency Key Reused")
    default_message = "This Idempotency-Key was already used with a different request body."


class ServiceUnavailable(DomainError):
    code, http_status, title = "9008", 503, gettext_noop("Service Unavailable")
    default_message = "The database is unavailable right now; nothing was changed. Retry shortly."


class ConcurrentChange(DomainError):
    code, http_status, title = "9009", 409, gettext_noop("Concurrent Change")
    default_message = (
        "Another change to the same records was being made at the same time; nothing was "
        "changed. Retry the request."
    )


class DynamicSegmentAssignment(DomainError):
    code, http_status, title = "9010", 422, gettext_noop("Dynamic Segment")
    default_message = (
        "The segment is dynamic: its rule chooses its members, which cannot be assigned by hand."
    )


class DuplicateRulePriority(DomainError):
    code, http_status, title = "9011", 409, gettext_noop("Duplicate Rule Priority")
    default_message = (
        "Another dynamic segment of the organization has this priority: which one a member "
        "matching both would join would be undecided."
    )


class AmbiguousBenefits(DomainError):
    code, http_status, title = "9012", 409, gettext_noop("Ambiguous Benefits")
    default_message = (
        "Another ACTIVE benefit of the segment has the same exclusivity group and priority "
        "and an overlapping validity window: which one applies would be undecided."
    )


class DuplicateBenefitName(DomainError):
    code, http_status, title = "9013", 409, gettext_noop("Duplicate Benefit Name")
    default_message = "The segment already has a live benefit with this name."


class InternalError(DomainError):
    code, http_status, title = "9999", 500, gettext_noop("Internal Server Error")
    default_message = "internal error"


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether a database error is a lost race for locks (a deadlock, a serialization
    failure, a lock timeout) rather than an unreachable database. Django wraps psycopg's
    ``DeadlockDetected`` and ``SerializationFailure`` as ``OperationalError``; the
    driver's exception, with its SQLSTATE, is the ``__cause__``."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) in LOCK_CONFLICT_SQLSTATES


def database_error(exc: BaseException) -> DomainError | None:
    """What a database failure is answered with: a lock conflict is a 409
    ``ConcurrentChange`` (9009, retry), a database that cannot be reached a 503
    ``ServiceUnavailable`` (9008); None for anything else."""
    if is_lock_conflict(exc):
        return ConcurrentChange()
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return ServiceUnavailable()
    return None


ERRORS_BY_CODE: dict[str, type[DomainError]] = {
    cls.code: cls for cls in DomainError.__subclasses__()
}
