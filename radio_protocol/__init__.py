"""Shared Commune Radio protocol code: the wire (docs/protocol.md) and what both programs need.

The wire: every message's model, parser and builder (``messages/`` for event, status and
ack, ``schedule/`` for schedules and their expansion), ``typ`` values and size limits
(``names``), JWS/JWK (``jose``), times (``timefmt``), topics. Beside it: config
validation, durable writes, the clock.

Used by both the station daemon (``firmware_daemon``) and the district collector
(``district_collector``); it imports neither.
"""

SW_VERSION = "0.1.0"
PROTOCOL_VERSION = 1
PRIORITIES = ("normal", "priority", "emergency")
"""The ``priority`` values of docs/protocol.md, lowest first (schedules and airing events)."""
