"""logship: tail log files, parse them with regex rules, ship JSON records without losing a line."""

__version__ = "0.1.0"
