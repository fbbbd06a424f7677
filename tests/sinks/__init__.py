"""Tests of the sinks, mirroring sinks/."""
