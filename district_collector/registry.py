"""The station registry as scoring and verification see it, whatever it was built from.

A :class:`Registry` holds the district (id, name, timezone, public JWKs) and its
stations in registry order (id, commune code and name, level, public JWKs). The district's
``level`` (``district.level``, e.g. ``tinh``) is there only when the config sets it. It is
built from the collector's :class:`~district_collector.config.DistrictConfig` (the
district's public key comes from its signing key) or from an evidence bundle's
``keys.json`` (:meth:`Registry.from_keys_json`), and written back with
:meth:`Registry.to_keys_json`, so a report computed from the database and one
recomputed by ``verify`` from the bundle see the same registry.

``keys.json``::

    {"district": {"id": "kon-ray", "name": "...", "timezone": "Asia/Ho_Chi_Minh",
                  "keys": [JWK, ...], "level": "huyen"},
     "stations": [{"id": "dak-koi-01", "district": "kon-ray",
                   "commune": {"code": "23335", "name": "Xã Đăk Kôi"},
                   "level": "commune", "keys": [JWK, ...]}, ...]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

from district_collector.region import REGION_LEVELS, RegionLevel, region_level
from radio_protocol.errors import CommuneRadioError, JoseError
from radio_protocol.jose import KeyRing, jwk_thumbprint
from radio_protocol.timefmt import zone

if TYPE_CHECKING:
    from district_collector.config import DistrictConfig

LEVELS = ("commune", "district")


class RegistryError(CommuneRadioError):
    """A registry (``keys.json`` or the config's stations) is malformed, or cannot take
    a change asked of it (the message says what conflicts)."""


def _public_only(jwk: Mapping[str, object]) -> dict[str, str]:
    return {"kty": str(jwk.get("kty")), "crv": str(jwk.get("crv")), "x": str(jwk.get("x"))}


class KeysJsonCommune(TypedDict):
    code: str
    name: str


class KeysJsonStation(TypedDict):
    id: str
    district: str
    commune: KeysJsonCommune
    level: str
    keys: list[dict[str, str]]


class KeysJsonDistrict(TypedDict):
    id: str
    name: str
    timezone: str
    keys: list[dict[str, str]]
    level: NotRequired[str]  # district.level when the config sets it (see district_collector.region)


class KeysJson(TypedDict):
    """The ``keys.json`` document (see the module docstring)."""

    district: KeysJsonDistrict
    stations: list[KeysJsonStation]


@dataclass(frozen=True)
class RegisteredStation:
    """One registered station, the one record config, registry, scoring and admin share.

    Where it is (``commune_code``, ``commune_name``), its ``level`` (one of
    :data:`LEVELS`) and its public keys: ``keys`` the public JWKs (``kty``, ``crv``, ``x``
    only) in registry order, old keys kept; ``keyring`` the same keys by kid, in the same
    order. ``mqtt_password_file``: where the collector keeps the station's broker password
    (config only; None in a registry read from ``keys.json``).
    """

    id: str
    commune_code: str
    commune_name: str
    level: str
    keys: tuple[dict[str, str], ...]
    keyring: KeyRing = field(repr=False, compare=False)
    mqtt_password_file: Path | None = None
    location: tuple[float, float] | None = None  # (lat, lon) from the config, for the console's map

    @cached_property
    def kids(self) -> tuple[str, ...]:
        """The keys' RFC 7638 thumbprints in key order, computed once (read often)."""
        return tuple(self.keyring.keys)


@dataclass(frozen=True)
class Commune:
    """A commune of the registry and its commune-level stations, in registry order."""

    code: str
    name: str
    stations: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    district_id: str
    district_name: str
    timezone: str
    district_keys: tuple[dict[str, str], ...]
    stations: tuple[RegisteredStation, ...]
    _by_id: dict[str, RegisteredStation] = field(default_factory=dict, repr=False, compare=False)
    level: str | None = None  # the configured district.level code; None: read from the name

    def __post_init__(self) -> None:
        self._by_id.update({s.id: s for s in self.stations})

    @property
    def region(self) -> RegionLevel:
        """The region's level and its words (configured, else from its name)."""
        return region_level(self.district_name, self.level)

    # --- lookups ------------------------------------------------------------------------

    def station(self, station_id: str) -> RegisteredStation | None:
        return self._by_id.get(station_id)

    def district_keyring(self) -> KeyRing:
        return KeyRing.from_jwks(self.district_keys)

    @property
    def district_kids(self) -> tuple[str, ...]:
        return tuple(jwk_thumbprint(k) for k in self.district_keys)

    def communes(self) -> list[Commune]:
        """Communes in registry order (order of their first commune-level station).

        District-level stations (the district's own radio) belong to no commune's
        score: criterion 1.5 is about the commune's radio.
        """
        order: list[str] = []
        names: dict[str, str] = {}
        members: dict[str, list[str]] = {}
        for st in self.stations:
            if st.level != "commune":
                continue
            if st.commune_code not in members:
                order.append(st.commune_code)
                names[st.commune_code] = st.commune_name
                members[st.commune_code] = []
            members[st.commune_code].append(st.id)
        return [Commune(code, names[code], tuple(members[code])) for code in order]

    # --- building -----------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        district_id: str,
        district_name: str,
        timezone: str,
        district_keys: Iterable[Mapping[str, object]],
        stations: Iterable[tuple[str, str, str, str, Sequence[Mapping[str, object]]]],
    ) -> Registry:
        """From plain values; ``stations`` yields ``(id, commune_code, commune_name, level, jwks)``."""
        try:
            zone(timezone)
        except ValueError as exc:
            raise RegistryError(str(exc)) from exc
        entries: list[RegisteredStation] = []
        seen: set[str] = set()
        for sid, code, name, level, jwks in stations:
            if sid in seen:
                raise RegistryError(f"station {sid!r} is listed twice")
            if level not in LEVELS:
                raise RegistryError(f"station {sid!r}: level {level!r} is not one of {', '.join(LEVELS)}")
            seen.add(sid)
            keys = tuple(_public_only(k) for k in jwks)
            try:
                ring = KeyRing.from_jwks(keys)
            except (JoseError, KeyError) as exc:
                raise RegistryError(f"station {sid!r}: bad public key: {exc}") from exc
            entries.append(RegisteredStation(sid, str(code), str(name), level, keys, ring))
        dkeys = tuple(_public_only(k) for k in district_keys)
        try:
            KeyRing.from_jwks(dkeys)
        except (JoseError, KeyError) as exc:
            raise RegistryError(f"district key: {exc}") from exc
        return cls(district_id, district_name, timezone, dkeys, tuple(entries))

    @classmethod
    def from_config(cls, config: DistrictConfig,
                    district_keys: Iterable[Mapping[str, object]] = ()) -> Registry:
        """The config's registry (its station records as they are: the config checked
        them); pass the district's public JWK(s) when they matter."""
        district = cls.build(config.district.id, config.district.name, config.district.timezone,
                             district_keys, ())
        return cls(district.district_id, district.district_name, district.timezone, district.district_keys,
                   config.stations, level=config.district.level)

    @classmethod
    def from_keys_json(cls, data: object) -> Registry:
        """From a parsed ``keys.json``; RegistryError naming the member that is wrong."""
        if not isinstance(data, dict):
            raise RegistryError("keys.json: not a JSON object")
        d = data.get("district")
        if not isinstance(d, dict):
            raise RegistryError("keys.json: member 'district' missing or not an object")
        for name in ("id", "name", "timezone"):
            if not isinstance(d.get(name), str):
                raise RegistryError(f"keys.json: district.{name} missing or not a string")
        dkeys = d.get("keys")
        if not isinstance(dkeys, list) or not all(isinstance(k, dict) for k in dkeys):
            raise RegistryError("keys.json: district.keys must be a list of JWKs")
        raw = data.get("stations")
        if not isinstance(raw, list):
            raise RegistryError("keys.json: member 'stations' missing or not a list")
        rows: list[tuple[str, str, str, str, Sequence[Mapping[str, object]]]] = []
        for i, s in enumerate(raw):
            where = f"keys.json: stations[{i}]"
            if not isinstance(s, dict) or not isinstance(s.get("id"), str):
                raise RegistryError(f"{where}: needs a string id")
            commune = s.get("commune")
            if not isinstance(commune, dict) or not isinstance(commune.get("code"), str) \
                    or not isinstance(commune.get("name"), str):
                raise RegistryError(f"{where}.commune: needs string code and name")
            keys = s.get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
                raise RegistryError(f"{where}.keys: must be a list of JWKs")
            if s.get("district", d["id"]) != d["id"]:
                raise RegistryError(f"{where}.district: {s.get('district')!r} is not {d['id']!r}")
            rows.append((s["id"], commune["code"], commune["name"], str(s.get("level", "commune")), keys))
        level = d.get("level")
        if level is not None and level not in REGION_LEVELS:
            raise RegistryError(f"keys.json: district.level {level!r} is not one of {', '.join(REGION_LEVELS)}")
        built = cls.build(d["id"], d["name"], d["timezone"], dkeys, rows)
        return cls(built.district_id, built.district_name, built.timezone, built.district_keys, built.stations,
                   level=level)

    def to_keys_json(self) -> KeysJson:
        district: KeysJsonDistrict = {"id": self.district_id, "name": self.district_name,
                                      "timezone": self.timezone, "keys": [dict(k) for k in self.district_keys]}
        if self.level is not None:
            district["level"] = self.level
        return {
            "district": district,
            "stations": [
                {"id": s.id, "district": self.district_id,
                 "commune": {"code": s.commune_code, "name": s.commune_name},
                 "level": s.level, "keys": [dict(k) for k in s.keys]}
                for s in self.stations
            ],
        }
