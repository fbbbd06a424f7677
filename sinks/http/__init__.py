"""The `http` sink: batches of records POSTed as JSON to any HTTP endpoint.

One file per stage: `config` (settings), `encoder` (batch -> request bodies), `client` (one
request over urllib3, no retries of its own), `classify` (answer -> SendResult), `sink` (the
Sink the worker drives). Retries, backoff and Retry-After are the sink worker's.

Alerts (`logship.observe.alerts`) deliver their notifications through the same sink, with a preset
body per notification.
"""
