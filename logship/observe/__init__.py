"""Watching the agent: health, live metrics, self-logs, log-derived metrics, alerts."""
