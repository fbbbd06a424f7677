"""The contract every stage shares: records, batches, acks, the Sink protocol, errors, units,
settings schema, metrics. Imports nothing else from logship, nor parsers or sinks."""
