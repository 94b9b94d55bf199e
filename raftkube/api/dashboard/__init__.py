"""The web dashboard's page and assets at /dashboard, served without a token: they hold no data.

The page (static/index.html, plain ES modules and CSS: no build step, nothing from another
origin) asks the user for a bearer token, keeps it in sessionStorage and sends every data
request to the normal API with `Authorization: Bearer`, so RBAC decides what it sees. Every
answer carries a Content-Security-Policy that allows only this origin's scripts and styles (no
inline script, no framing) and the files are read once, at start-up, from the package.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).parent / "static"
PREFIX = "/dashboard"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def load_assets(directory: Path = STATIC) -> dict[str, tuple[bytes, str]]:
    """name -> (content, media type) of every servable file in `directory` (no subdirectories)."""
    return {path.name: (path.read_bytes(), MEDIA_TYPES[path.suffix])
            for path in sorted(directory.iterdir()) if path.is_file() and path.suffix in MEDIA_TYPES}


def dashboard_routes() -> list[Route]:
    """`/dashboard` (redirects to `/dashboard/`), the page at `/dashboard/`, its assets below it."""
    assets = load_assets()

    def asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            return Response(f"no such dashboard file: {name}\n", status_code=404, media_type="text/plain",
                            headers=SECURITY_HEADERS)
        content, media_type = found
        return Response(content, media_type=media_type, headers=SECURITY_HEADERS)

    async def root(request: Request) -> Response:
        return RedirectResponse(PREFIX + "/", status_code=308, headers=SECURITY_HEADERS)

    async def page(request: Request) -> Response:
        return asset("index.html")

    async def file(request: Request) -> Response:
        return asset(request.path_params["name"])

    return [Route(PREFIX, root), Route(PREFIX + "/", page), Route(PREFIX + "/{name}", file)]
