"""Tests of sinks/kafka/."""
