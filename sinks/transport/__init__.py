"""The HTTP layer the HTTP-speaking sinks share: answers, errors, auth, TLS settings, retry logic.

Each sink keeps its own client (elastic-transport for Elasticsearch, urllib3 for webhooks) and its
own reading of what an answer means (a `RetryLogic`); what they have in common lives here once.
"""
