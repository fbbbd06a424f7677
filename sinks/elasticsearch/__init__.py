"""The Elasticsearch sink: `_bulk` into data streams or indices, per-item retries, idempotent ids.

One module per stage: `config` (settings), `encoder` (NDJSON bodies), `classify` (what a bulk
answer means), `client` (HTTP), `sink` (the Sink), `setup` (`logship setup elasticsearch`).
"""
