"""The project's exception hierarchy: one base, one subclass per layer."""


class CommuneRadioError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(CommuneRadioError):
    """A configuration file is missing, unreadable or invalid.

    ``problems`` lists every problem found, each naming the key and the file.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class JoseError(CommuneRadioError):
    """A JWS or JWK is malformed, uses a forbidden algorithm, or does not verify.

    ``reason`` is a short stable code (``bad-json``, ``bad-base64``, ``alg``,
    ``unknown-kid``, ``bad-signature``, ``typ``, ``too-large``, ``bad-payload``, ``bad-jwk``).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class KeyFileError(CommuneRadioError):
    """A private key file is missing, unreadable, malformed or too widely readable."""


class MessageError(CommuneRadioError):
    """A payload that is not a valid protocol message (docs/protocol.md, "Payloads").

    Raised by the parsers of :mod:`radio_protocol.messages` and :mod:`radio_protocol.schedule`
    after the JWS itself verified. ``reason`` is a short stable code (``invalid-event``,
    ``invalid-status``, ``invalid-ack``, ``bad-schedule``, ``bad-rrule``, ...); ``detail``
    names the member and what is wrong with it.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class EventError(MessageError):
    """An airing event payload is malformed (reason ``invalid-event``)."""

    def __init__(self, detail: str) -> None:
        super().__init__("invalid-event", detail)


class StatusError(MessageError):
    """A status payload is malformed (reason ``invalid-status``)."""

    def __init__(self, detail: str) -> None:
        super().__init__("invalid-status", detail)


class AckError(MessageError):
    """An ack that verified but does not say something its reader can apply (``invalid-ack``)."""

    def __init__(self, detail: str) -> None:
        super().__init__("invalid-ack", detail)


class ScheduleError(MessageError):
    """A schedule was refused. ``reason`` is a short code, ``problems`` lists what was wrong."""

    def __init__(self, reason: str, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(reason, "; ".join(self.problems))
