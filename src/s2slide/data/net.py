"""Network probes shared by the data routes and chapter 0's checks.

Every probe is bounded in time and answers at once offline (``S2SLIDE_OFFLINE`` or ``CI``).
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from s2slide import config


def reachable(url: str, *, timeout: float = 2.0) -> tuple[bool, str]:
    """Can a TCP connection be opened to the host of ``url`` within ``timeout`` seconds?

    Returns ``(False, reason)`` at once when ``S2SLIDE_OFFLINE``/``CI`` is set.
    """
    if config.offline():
        return False, "skipped: offline mode (S2SLIDE_OFFLINE or CI is set)"
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True, "reachable"
    except OSError as err:
        return False, f"unreachable ({err.__class__.__name__}: {err})"
