"""Tests of sinks/http/."""
