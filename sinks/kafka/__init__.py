"""The Kafka sink: records as JSON messages, acknowledged only on Kafka's delivery reports.

One module per stage: `config` (settings and their validation), `topic` (topic and key
rendering), `errors` (librdkafka error -> retry / reject), `sink` (the producer and the
delivery-report bookkeeping).
"""
