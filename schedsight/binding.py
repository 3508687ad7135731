"""Where a server listens: loopback is private to this machine, anything else is exposed, and
an exposed server without authentication must be asked for explicitly (`--insecure-...`)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; 0.0.0.0, :: and every other name are exposed."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False
