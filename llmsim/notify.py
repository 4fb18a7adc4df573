"""sd_notify: tell systemd (Type=notify) about start-up, reloads and shutdown.

The protocol is one datagram of newline-separated KEY=VALUE lines sent to the AF_UNIX socket
named by $NOTIFY_SOCKET; a leading '@' means the Linux abstract namespace. Without the
variable this does nothing, so the master calls it unconditionally.
"""

import logging
import os
import socket
import time

log = logging.getLogger("llmsim.notify")


def notify(*lines, environ=None):
    """Send `lines` (e.g. "READY=1", "STATUS=...") to systemd; True when sent."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address[0] == "@":
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
    except OSError as err:
        log.warning("sd_notify to %s failed: %s", address.lstrip("\0"), err)
        return False
    return True


def reloading():
    """RELOADING=1 with the monotonic timestamp systemd's Type=notify-reload expects."""
    now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={now_us}")
