"""The built-in rule pack shipped with logship (package data: `*.yaml`)."""
