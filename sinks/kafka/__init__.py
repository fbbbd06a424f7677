"""The Kafka sink: records as JSON messages, acknowledged only on Kafka's delivery reports.

One module per stage: `config` (settings and their validation), `route` (topic and key
rendering), `encoder` (record -> message value), `classify` (librdkafka error -> retry /
reject / rebuild), `producer` (the producer's lifecycle and fatal recovery), `reports`
(matching error reports to records), `sink` (the two produce paths and one send).
"""
