"""``Authorization: Bearer <token>`` with the user's API tokens (stored hashed)."""

from __future__ import annotations

from django.db.models import CharField
from django.utils import timezone
from rest_framework import authentication, exceptions

from segments.db_router import bookkeeping_write
from segments.models import ApiToken
from segments.prepared import PreparedQuery

# Every API request reads its token: the SQL is compiled once per process.
_TOKEN = PreparedQuery(
    lambda token_hash: (
        ApiToken.objects.select_related("user").filter(token_hash=token_hash).order_by("pk")[:1]
    ),
    token_hash=CharField(),
)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, token = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token or " " in token:
            raise exceptions.AuthenticationFailed("Invalid bearer token header.")
        found = _TOKEN.first(token_hash=ApiToken.hash(token))
        if found is None or not found.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
            with bookkeeping_write():  # not a write the client reads back (replica)
                ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        return found.user, found

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
