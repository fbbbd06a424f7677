"""Per-sink disk spools: where a lagging sink's records wait, durably, while the others go on.

- `frame`: the on-disk format (segment header, length + checksum framed chunks) and its scanner;
- `store`: one sink's folder of segments (recovery at open, append + fsync, bounds, read cursor);
- `queue`: `SpooledQueue`, a `SinkQueue` that spills to the store when the sink lags;
- `inspect`: read-only summaries and checksum verification for `logship spool`.
"""
