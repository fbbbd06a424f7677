"""Alerts from logs: rules over parsed records, evaluated as records are read, delivered by HTTP.

The data flow, one module per stage:

```
tailer thread, once per chunk of parsed records (a RecordObserver)
  │  scan       one generated loop per input: every rule's `when` condition inlined, each
  │             field read once per record; returns the few (rule, record) hits
  ▼
engine          per rule, per group (`group_by` values): a sliding window of event times
  │  window     (`threshold: count >= N within W`), silence, resolve; bounded by max_groups
  │  group      (oldest evicted, counted). Holds a lock only while handling hits.
  ▼
notification    firing / resolved, with the message rendered from the last record (template)
  │  presets    -> a JSON document per destination preset: webhook, slack, alertmanager
  ▼
outbox          per destination, bounded; when full the OLDEST notification is dropped and
  │             counted. Never blocks: a dead webhook cannot slow the log path.
  ▼
delivery        a SinkWorker per destination over the `http` sink: retries with backoff and
                Retry-After, dead letters for rejected notifications
```

`runtime.AlertRuntime` wires these for the pipeline (plus a ticker thread that sends resolves
when logs go quiet, and the /metrics collector); `preview` replays a log file through the same
engine with the records' own timestamps as the clock (`logship alerts`).
"""
