"""The client of a request that came through proxies, chosen from an address list the way
Filebeat's nginx module chooses it.

nginx's `$http_x_forwarded_for` (before or instead of `$remote_addr`) logs a list such as
`"10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185`: the addresses a request passed, the
original client first. The list is split on `"?,?\\s+` and the client is the first address that
is not a private IPv4 address (10/8, 172.16/12, 192.168/16, 127/8); when every address is private,
the first one. Anything that is not a dotted IPv4 address (IPv6, `localhost`, `unknown`) counts
as public, as in Filebeat's ingest script, so a list starting with `localhost` yields `localhost`.
Pure functions: no I/O, no state.
"""

from __future__ import annotations

import ipaddress
import re

_SEPARATOR = re.compile(r'"?,?\s+"?')


def split_addresses(text: str) -> list[str]:
    """`"a, b" c` -> `["a", "b", "c"]` (quotes around the list or its parts are dropped)."""
    return [part for part in _SEPARATOR.split(text.strip().strip('"')) if part]


def is_private_ipv4(address: str) -> bool:
    """True for 10.x, 172.16-31.x, 192.168.x and 127.x; False for anything else (IPv6, names)."""
    parts = address.split(".", 2)
    if len(parts) < 2:
        return False
    try:
        first, second = int(parts[0]), int(parts[1])
    except ValueError:
        return False
    return (
        first in (10, 127)
        or (first == 192 and second == 168)
        or (first == 172 and 16 <= second <= 31)
    )


def choose_client(addresses: list[str]) -> str | None:
    """The first address that is not private IPv4, else the first; None for an empty list."""
    for address in addresses:
        if not is_private_ipv4(address):
            return address
    return addresses[0] if addresses else None


def is_ip(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (what may go into `source.ip`)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
