"""Shared Commune Radio protocol code: JWS/JWK, times, topics, config validation, durability.

Used by both the station daemon (``firmware_daemon``) and the district collector
(``district_collector``); it imports neither.
"""

SW_VERSION = "0.1.0"
PROTOCOL_VERSION = 1
PRIORITIES = ("normal", "priority", "emergency")
"""The ``priority`` values of PROTOCOL.md, lowest first (schedules and airing events)."""
