"""Where the web UI lives: its pages send a browser without a session to the login page,
and its forms are read as forms, not turned into JSON (api/middleware.py)."""

from __future__ import annotations

PAGES = "/ui/"
LOGIN_PAGE = "/ui/login"
PAGES_PUBLIC = (LOGIN_PAGE, "/ui/static/")


def is_page(path: str) -> bool:
    return path == "/" or path.startswith(PAGES)
