"""The signed messages of docs/protocol.md other than schedules: event, status, ack.

Each module holds one message: its frozen model, its one parser (``parse_*``, raising a
:class:`~radio_protocol.errors.MessageError` subclass whose ``detail`` names the member)
and its one builder (``build_*``, the payload dict in the order of docs/protocol.md, ready
for :meth:`radio_protocol.jose.Signer.sign`). Schedules live in :mod:`radio_protocol.schedule`.
"""
