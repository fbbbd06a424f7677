"""Sinks: batches of LogEntry -> somewhere durable. A sink knows nothing about files or offsets."""
