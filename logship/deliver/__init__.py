"""The delivery stage: per-sink bounded queues, sink workers (batch, send, retry), dead letters."""
