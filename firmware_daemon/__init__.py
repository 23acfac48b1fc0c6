"""The Commune Radio station daemon (runs on the commune's Raspberry Pi)."""

from radio_protocol import SW_VERSION

__version__ = SW_VERSION
