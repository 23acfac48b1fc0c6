"""The fixed names and numbers of the wire (docs/protocol.md): ``typ`` values, topic kinds, size limits.

Every other module (station, district, tests' helpers) imports these; none spells a
``typ`` string or a limit of its own.
"""

from __future__ import annotations

EVENT_TYP = "cr-event+json"
"""JWS ``typ`` of an airing event (topic ``event``, station -> district)."""
STATUS_TYP = "cr-status+json"
"""JWS ``typ`` of a station status (topic ``status``, retained, also the Last Will)."""
SCHEDULE_TYP = "cr-schedule+json"
"""JWS ``typ`` of a schedule (topic ``schedule``, district -> station, retained)."""
ACK_TYP = "cr-ack+json"
"""JWS ``typ`` of an ack (topic ``ack``, district -> station, retained)."""
MANIFEST_TYP = "cr-manifest+json"
"""JWS ``typ`` of an evidence bundle's signed manifest: not a topic payload."""

KINDS = ("event", "status", "schedule", "ack")
"""The last segment of a station topic ``cr/v1/{district}/station/{station}/{kind}``."""
TYP_BY_KIND = {
    "event": EVENT_TYP,
    "status": STATUS_TYP,
    "schedule": SCHEDULE_TYP,
    "ack": ACK_TYP,
}
"""The one ``typ`` a JWS on each topic kind must carry."""
TOPIC_TYPS = tuple(TYP_BY_KIND.values())
SIGNABLE_TYPS = (*TOPIC_TYPS, MANIFEST_TYP)
"""Every ``typ`` this project signs."""

MAX_JWS_BYTES = 64 * 1024
"""Largest event, status or ack JWS a reader accepts (bytes of the whole JWS JSON)."""
MAX_SCHEDULE_BYTES = 256 * 1024
"""Largest schedule JWS a station accepts; the district refuses to publish a larger one."""

# Bounds of every value a reader accepts (docs/protocol.md, "Bounds"): what is outside them
# is refused by the parser, so no store, database or clock ever sees it.
MAX_SEQ = 2**63 - 1
"""Largest integer anywhere in a payload (``seq``, ``through``, versions, counts): a signed
64-bit integer, what SQLite stores. ``seq`` is 1..MAX_SEQ."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects in any JSON a reader parses (a JWS, its header,
its payload, an evidence file). Refused before parsing: a deeper document never reaches
the recursive decoder."""
MAX_NAME_CHARS = 128
"""Longest identifier-like string of a payload: district, station, commune, boot id, sw,
segment id, program, topic, reason, sha256 members."""
MAX_TEXT_CHARS = 600
"""Longest free-text string of a payload (an event's ``segment.title``, a status's
``schedule_error``)."""
MAX_TIME_CHARS = 64
"""Longest RFC 3339 time string a reader parses."""
MIN_YEAR = 1900
MAX_YEAR = 9000
"""Years of the times and dates a reader accepts (a station without a synchronized clock may
say 1970; nothing needs year 1 or 9999, where converting a zone overflows)."""
