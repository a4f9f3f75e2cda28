"""`python -m blockpost.healthcheck`: exit 0 when the server on this machine answers /healthz.

For container health checks: it reads the same settings as `blockpost serve` (port, bind
address, TLS), so it follows BLOCKPOST_PORT and BLOCKPOST_TLS_CERT wherever they are set.
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request

from pydantic import ValidationError

from blockpost.config import Settings

TIMEOUT_SECONDS = 3.0
ANY_ADDRESS = {"0.0.0.0", "::", ""}


def health_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ANY_ADDRESS else settings.host
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{host}:{settings.port}/healthz"


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"healthcheck: settings: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    url = health_url(settings)
    # Only liveness is asked here: the server's own certificate may name another host.
    context = None
    if settings.tls_cert:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS, context=context) as answer:
            healthy = answer.status == 200
    except (OSError, urllib.error.URLError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
