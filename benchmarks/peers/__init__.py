"""The peer shippers the agent is compared with: rsyslog and syslog-ng from Debian's packages.

`install` gets their binaries, `rsyslog` and `syslog_ng` write their configs and command lines,
`verify` checks any contender's output line by line, `compare` runs the comparison.
"""
