"""Derivations: named functions a rule applies to a captured field to set fields a regex cannot
(`derive: {nginx.access.remote_ip_list: forwarded_for}` in a rule).

A derivation runs only on records where its field was captured, after the record is built, and
gets the record, the field's path and its raw captured text. The generated builder
(`parsers.builder`) and the generic path (`parsers.fields.FieldProcessor`) call the same
function, so both paths build the same records. Derivations do no I/O.

Built-in derivations:

- `forwarded_for`: the field holds an address list (`X-Forwarded-For` addresses and the client,
  `parsers.forwarded`); it becomes an array of the addresses, `source.address` the client that
  Filebeat's nginx module chooses (the first public address, else the first) and `source.ip` the
  same when it is an IP address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logship.core.record import LogEntry
from parsers.fields import child_object, set_path
from parsers.forwarded import choose_client, is_ip, split_addresses

Derivation = Callable[[LogEntry, tuple[str, ...], Any], None]


def forwarded_for(rec: LogEntry, path: tuple[str, ...], value: Any) -> None:
    """Splits an address list at `path` and sets `source.address` / `source.ip` to its client."""
    addresses = split_addresses(value) if isinstance(value, str) else [str(v) for v in value]
    set_path(rec, path, addresses)
    client = choose_client(addresses)
    if client is None:
        return
    source = child_object(rec, "source")
    source["address"] = client
    if is_ip(client):
        source["ip"] = client
    else:
        source.pop("ip", None)


DERIVATIONS: dict[str, Derivation] = {"forwarded_for": forwarded_for}
"""Derivations by the name a rule's `derive:` setting uses."""

WRITES: dict[str, frozenset[str]] = {"forwarded_for": frozenset({"source"})}
"""The top-level keys a derivation adds or changes, besides its own field's (it removes none):
generated code that knows them completes the record without looking (`parsers.fast_chunk`)."""
