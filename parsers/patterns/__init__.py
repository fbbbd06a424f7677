"""The grok pattern library shipped with logship (package data: `*.txt`)."""
