"""The tail stage: find files, follow them across rotation and truncation, read, frame, parse
and hand batches to the sink queues."""
