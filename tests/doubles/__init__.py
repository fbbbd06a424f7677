"""Test doubles shared by the suites: fake servers and brokers that bind 127.0.0.1."""
