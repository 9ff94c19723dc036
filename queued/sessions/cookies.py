"""Setting and clearing the session cookies the same way on every page: HttpOnly, the page's
SameSite, and Secure when the hall is reached over https (`[daemon] public_url` says so, since TLS
usually ends at a proxy in front of the daemon, or the request itself came over https)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


def secure(request: Request, public_url: str) -> bool:
    return public_url.lower().startswith("https://") or request.url.scheme == "https"


def set_cookie(response: Response, request: Request, public_url: str, name: str, value: str, max_age: int,
               path: str = "/", samesite: str = "strict") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite=samesite,
                        secure=secure(request, public_url))


def clear_cookie(response: Response, request: Request, public_url: str, name: str, path: str = "/",
                 samesite: str = "strict") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite=samesite, secure=secure(request, public_url))
