"""Tests of sinks/elasticsearch/."""
