"""Response headers, cookies, proxies and cross-site requests.

- Content-Security-Policy allows scripts and styles only from this site's own
  ``/static`` files: no inline script, no inline style, no plug-ins; and no other
  site may frame these pages (``frame-ancestors 'none'`` and X-Frame-Options).
  The one exception is the raw preview of a round-up, which only this site may
  frame and which may run no script at all (see :func:`preview_headers`).
- The session cookie is HttpOnly and SameSite=Lax always, and Secure whenever
  the request came over HTTPS (directly, or through a trusted proxy).
- Behind a proxy (``[web] behind_proxy = true``) X-Forwarded-For/-Proto/-Host/
  -Prefix are trusted from exactly one hop, via Werkzeug's ProxyFix.
- A state-changing request whose Origin is another site, or that the browser
  marks ``Sec-Fetch-Site: cross-site``, is refused before any view runs; the
  CSRF token (Flask-WTF) is the second, independent check.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from roundup_bot.config import WebSettings

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
    ]
)

#: The rendered round-up shown inside the preview page: the published template may
#: carry its own inline styles and outside images, but never script, and it is sandboxed.
PREVIEW_CSP = "; ".join(
    [
        "default-src 'none'",
        "img-src https: http: data:",
        "style-src 'unsafe-inline' https:",
        "font-src https: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-popups allow-popups-to-escape-sandbox",
    ]
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request itself is HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return has_request_context() and request.is_secure


def install(app: Flask, web: WebSettings) -> None:
    """Wire the headers, cookie rules, proxy trust and Origin check into ``app``."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.base_url.lower().startswith("https://"),
    )
    app.session_interface = SessionInterface()
    if web.behind_proxy:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1
        )
    allowed = {_origin(web.base_url)} if web.base_url else set()

    @app.before_request
    def refuse_cross_site() -> None:
        if request.method in SAFE_METHODS:
            return
        if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            abort(403, description="This form was sent from another site and was refused.")
        origin = request.headers.get("Origin")
        if origin and origin != "null":
            if origin.rstrip("/").lower() not in allowed | {_origin(request.host_url)}:
                abort(403, description="This form was sent from another site and was refused.")
        elif origin == "null":
            abort(403, description="This form was sent from an opaque origin and was refused.")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        if "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]:
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        else:
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        )
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.path.startswith("/static/"):
            # Editors' pages carry unpublished text: no shared or back-button caches.
            response.headers["Cache-Control"] = "no-store"
        return response


def preview_headers(response: Response) -> Response:
    """Headers for the raw rendered round-up that the preview page frames."""
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_safe_redirect(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, no protocol-relative '//' trick."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
