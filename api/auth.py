"""Who may ask: the bearer token, the user's identity from a trusted header, and the rule
that keeps a server without a token off the network.

The rule: a token (SCHEDSIGHT_API_TOKEN) is required, unless the operator passes `--no-auth`
and binds to a loopback address. The identity header (e.g. REMOTE_USER, as Open OnDemand's
proxy sets it) is read only when the operator names it: then every call must carry it, and a
user sees only their own jobs unless listed as an admin. Without one, the caller holding the
token (a portal's backend, or the local operator) is trusted with every job.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import InsecureBindError

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True)
class ApiAuth:
    token: str | None  # None: no token asked for (loopback with --no-auth only)
    user_header: str | None  # None: no header is trusted to name the user
    admins: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: a user (from the trusted header) or None for the token holder itself."""

    user: str | None
    admin: bool

    def may_see(self, owner: str) -> bool:
        return self.user is None or self.admin or self.user == owner


def check_exposure(host: str, auth: ApiAuth, *, no_auth: bool) -> None:
    """Refuse a server that anyone could ask without a token."""
    if auth.token and no_auth:
        raise InsecureBindError("--no-auth with SCHEDSIGHT_API_TOKEN set: drop one of them")
    if auth.token:
        return
    if not no_auth:
        raise InsecureBindError(
            "no API token: set SCHEDSIGHT_API_TOKEN (e.g. `openssl rand -hex 32`), or pass "
            "--no-auth to serve this machine only (127.0.0.1)"
        )
    if host not in LOOPBACK:
        raise InsecureBindError(
            f"--no-auth would let anyone who reaches {host} ask: it binds to a loopback "
            "address only (127.0.0.1, ::1, localhost); set SCHEDSIGHT_API_TOKEN to bind there"
        )


_bearer = HTTPBearer(auto_error=False, description="SCHEDSIGHT_API_TOKEN")


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The checked caller of a /v1 route (401 without the token or the identity)."""
    auth: ApiAuth = request.app.state.api.auth
    if auth.token is not None:
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode(), auth.token.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
    if auth.user_header is None:
        return Caller(None, admin=True)
    user = request.headers.get(auth.user_header, "").strip()
    if not user:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"no user identity in the {auth.user_header} header"
        )
    return Caller(user, admin=user in auth.admins)


Asker = Annotated[Caller, Depends(caller)]
