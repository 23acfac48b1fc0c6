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
