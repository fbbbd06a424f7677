"""Tests of sinks/transport/."""
