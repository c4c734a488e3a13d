"""Bearer-token guard of the service's write, admin and monitoring routes.

``/feedback`` and ``/admin/*`` need ``Authorization: Bearer $MODELMEDIC_API_TOKEN``,
compared in constant time. Without a configured token those routes are disabled (403),
never open. ``/monitoring/*`` and ``/dashboard/data.json`` are open unless
``MODELMEDIC_MONITORING_TOKEN_REQUIRED`` is true (then guarded the same way); a caller
presenting the token there is *trusted* (may wait for a running measurement).
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="The value of MODELMEDIC_API_TOKEN.")


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison of two tokens (any characters)."""
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """FastAPI dependency: let the request through only with the configured bearer token.

    Raises:
        HTTPException: 403 when no token is configured (the route is disabled), 401 when
            the header is missing or not a bearer token, 403 when the token is wrong.
    """
    expected = request.app.state.service.settings.api_token
    if not expected:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is disabled: set MODELMEDIC_API_TOKEN to enable it")
    if credentials is None or not credentials.credentials.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send 'Authorization: Bearer <MODELMEDIC_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not token_matches(credentials.credentials.strip(), expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong token")


def monitoring_access(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> bool:
    """FastAPI dependency of the monitoring routes: whether the caller holds the token.

    Returns:
        ``True`` for a caller presenting the configured token, ``False`` for an anonymous
        one (let through only while ``MODELMEDIC_MONITORING_TOKEN_REQUIRED`` is false).

    Raises:
        HTTPException: as :func:`require_token` when the token is required.
    """
    state = getattr(request.app.state, "service", None)
    if state is None:  # an app without the service (no settings, no token)
        return False
    if state.settings.monitoring_token_required:
        require_token(request, credentials)
        return True
    expected = state.settings.api_token
    presented = credentials.credentials.strip() if credentials is not None else ""
    return bool(expected and presented and token_matches(presented, expected))
