"""Bearer-token guard of the service's write and admin routes.

``/feedback`` and ``/admin/*`` need ``Authorization: Bearer $MODELMEDIC_API_TOKEN``,
compared in constant time. Without a configured token those routes are disabled (403),
never open.
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
