"""Composition: config loading, pipeline wiring (start and stop order), agent, HTTP endpoint,
status, supervisor and federation, CLI."""
