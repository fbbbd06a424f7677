"""Parsers: raw text lines -> LogEntry records. No I/O happens here."""
