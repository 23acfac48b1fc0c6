"""Editing the district registry (``district.yaml``): a station's entry and its keys.

:func:`registry_update` registers a station's public JWK in the config's ``stations``
list, adding the station if it is new. Key rotation adds a key and never removes one: old
keys keep verifying old evidence. The file is edited as text, keeping its comments; the
result is parsed and checked against the intended change, and only when the layout is
unusual does it fall back to a plain YAML dump (the old file kept as ``.bak``). The file is
replaced atomically with its owner and mode kept (:func:`replace_keeping_owner`); callers
hold :func:`directory_lock` on its directory so one edit runs at a time.

A commune code has one name in the registry: a station for an already registered code
must give the registered name (Unicode normalisation aside), or ask for the commune to be
renamed, which renames it for every station of that code.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from district_collector.config import DistrictConfig, parse_district_config
from district_collector.registry import RegistryError
from radio_protocol.durable import fsync_dir
from radio_protocol.errors import ConfigError
from radio_protocol.jose import jwk_thumbprint


@dataclass(frozen=True)
class RegistryEntry:
    """The station as the registry lists it."""

    station_id: str
    commune_code: str
    commune_name: str
    level: str = "commune"


def yaml_quote(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def _flow_key(jwk: Mapping[str, str]) -> str:
    return f"{{kty: OKP, crv: Ed25519, x: {yaml_quote(jwk['x'])}}}"


def _stations_block(lines: list[str]) -> tuple[int, int] | None:
    """(index of the ``stations:`` line, end index exclusive) of the top-level block."""
    start = next((i for i, line in enumerate(lines) if re.match(r"^stations\s*:", line)), None)
    if start is None:
        return None
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if _TOP_KEY.match(lines[i]):
            end = i
            break
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start, end


def _edit_text(text: str, station: Mapping[str, Any] | None, entry: RegistryEntry,
               jwk: dict[str, str] | None, pw_file: Path, add_pw: bool) -> str | None:
    """The config text with the change applied, keeping comments; None if the layout is odd.

    ``station`` None: append a new station entry. Otherwise append ``jwk`` (if given) to
    the station's block-style ``keys`` list and, with ``add_pw``, its password file line.
    """
    lines = text.splitlines()
    block = _stations_block(lines)
    if station is None:
        assert jwk is not None
        item_lines = [f"- id: {entry.station_id}",
                      f"  commune: {{code: {yaml_quote(entry.commune_code)}, name: {yaml_quote(entry.commune_name)}}}",
                      f"  level: {entry.level}", "  keys:", f"    - {_flow_key(jwk)}",
                      f"  mqtt_password_file: {yaml_quote(str(pw_file))}"]
        if block is None:
            return text.rstrip("\n") + "\n\nstations:\n" + "\n".join("  " + e for e in item_lines) + "\n"
        start, end = block
        if not re.fullmatch(r"stations\s*:\s*(\[\s*\])?\s*(#.*)?", lines[start]):
            return None
        items = [line for line in lines[start + 1:end] if line.lstrip().startswith("- ")]
        indent = (len(items[0]) - len(items[0].lstrip())) if items else 2
        lines[start] = "stations:"
        lines[end:end] = [" " * indent + e for e in item_lines]
        return "\n".join(lines) + "\n"
    if block is None:
        return None
    start, end = block
    item_re = re.compile(rf"^(\s*)- id\s*:\s*[\"']?{re.escape(entry.station_id)}[\"']?\s*(#.*)?$")
    first = next((i for i in range(start + 1, end) if item_re.match(lines[i])), None)
    if first is None:
        return None
    indent = len(lines[first]) - len(lines[first].lstrip())
    last = end  # the line after the station's entry
    for i in range(first + 1, end):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#") and len(lines[i]) - len(lines[i].lstrip()) <= indent:
            last = i
            break
    while last > first + 1 and not lines[last - 1].strip():
        last -= 1
    keys_at = next((i for i in range(first, last)
                    if re.match(rf"^\s{{{indent + 2}}}keys\s*:\s*(#.*)?$", lines[i])), None)
    if keys_at is None:
        return None
    after_keys = keys_at + 1
    while after_keys < last and re.match(rf"^\s{{{indent + 3},}}\S", lines[after_keys]):
        after_keys += 1
    if add_pw:
        pw_line = " " * (indent + 2) + f"mqtt_password_file: {yaml_quote(str(pw_file))}"
        pw_at = next((i for i in range(first + 1, last)
                      if re.match(rf"^\s{{{indent + 2}}}mqtt_password_file\s*:", lines[i])), None)
        if pw_at is None:
            lines[last:last] = [pw_line]
        elif pw_at < keys_at:
            return None
        else:
            lines[pw_at] = pw_line
    if jwk is not None:
        first_key = lines[keys_at + 1] if keys_at + 1 < after_keys else ""
        key_indent = len(first_key) - len(first_key.lstrip()) if first_key else indent + 4
        lines[after_keys:after_keys] = [" " * key_indent + f"- {_flow_key(jwk)}"]
    return "\n".join(lines) + "\n"


def _expected_data(data: dict[str, Any], entry: RegistryEntry, jwk: dict[str, str] | None,
                   pw_file: Path, add_pw: bool, new_station: bool) -> dict[str, Any]:
    want = copy.deepcopy(data)
    stations = want.get("stations") or []
    want["stations"] = stations
    if new_station:
        stations.append({"id": entry.station_id, "commune": {"code": entry.commune_code, "name": entry.commune_name},
                         "level": entry.level, "keys": [dict(jwk or {})], "mqtt_password_file": str(pw_file)})
        return want
    for item in stations:
        if isinstance(item, dict) and item.get("id") == entry.station_id:
            if jwk is not None:
                item["keys"] = [*item.get("keys", []), dict(jwk)]
            if add_pw:
                item["mqtt_password_file"] = str(pw_file)
    return want


def _same_name(a: str, b: str) -> bool:
    return unicodedata.normalize("NFC", a.strip()) == unicodedata.normalize("NFC", b.strip())


def _commune_name(config: DistrictConfig, entry: RegistryEntry, rename: bool) -> tuple[RegistryEntry, list[str]]:
    """The entry with the commune's registered name, and the names to rename (``rename``).

    RegistryError when the code is registered under another name and ``rename`` is False.
    """
    holders = [s for s in config.stations if s.commune_code == entry.commune_code]
    names = sorted({s.commune_name for s in holders})
    if not names:
        return entry, []
    if len(names) == 1 and _same_name(names[0], entry.commune_name):
        return replace(entry, commune_name=names[0]), []  # keep the registered spelling
    if rename:
        return entry, [n for n in names if n != entry.commune_name]
    registered = " / ".join(yaml_quote(n) for n in names)
    stations = ", ".join(s.id for s in holders)
    raise RegistryError(
        f"commune {entry.commune_code} is registered as {registered} (station {stations}), not "
        f"{yaml_quote(entry.commune_name)}: give --name {yaml_quote(names[0])}, or add --rename-commune "
        f"to rename commune {entry.commune_code} to {yaml_quote(entry.commune_name)} for every station "
        "in the registry")


def _renamed_data(data: dict[str, Any], entry: RegistryEntry) -> dict[str, Any]:
    want = copy.deepcopy(data)
    for item in want.get("stations") or []:
        commune = item.get("commune") if isinstance(item, dict) else None
        if isinstance(commune, dict) and str(commune.get("code")) == entry.commune_code:
            commune["name"] = entry.commune_name
    return want


def _renamed_text(text: str, old_names: list[str], new_name: str) -> str:
    """``name: OLD`` (plain or quoted) replaced inside the ``stations`` block; the caller
    checks the parsed result (another commune with the same name falls back to a dump)."""
    lines = text.splitlines()
    block = _stations_block(lines)
    if block is None:
        return text
    start, end = block
    for old in old_names:
        forms = [re.escape(json.dumps(old, ensure_ascii=False)), re.escape(json.dumps(old)),
                 "'" + re.escape(old.replace("'", "''")) + "'", re.escape(old) + r"(?=\s*(?:[,}#]|$))"]
        pattern = re.compile(r"(\bname\s*:\s*)(?:" + "|".join(forms) + ")")
        for i in range(start + 1, end):
            lines[i] = pattern.sub(lambda m: m.group(1) + yaml_quote(new_name), lines[i])
    return "\n".join(lines) + "\n"


def _parsed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def registry_update(path: Path, entry: RegistryEntry, jwk: dict[str, str],
                    pw_file: Path, *, dry_run: bool = False,
                    rename_commune: bool = False) -> tuple[str, DistrictConfig]:
    """Register ``jwk`` for the station in the config at ``path`` (adding the station if new).

    Returns (what was done, the new config). Old keys are kept. Raises RegistryError when
    the station exists with another commune, the key belongs to another station, or the
    result would not be a valid config (e.g. the station id is the collector's username).
    ``dry_run``: every check, nothing written (callers check before touching other files).
    The commune code must keep its registered name unless ``rename_commune``, which renames
    it for every station of the code.
    """
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    config = parse_district_config(data, path)
    entry, old_names = _commune_name(config, entry, rename_commune)
    if old_names:
        data = _renamed_data(data, entry)
        text = _renamed_text(text, old_names, entry.commune_name)
    renamed = (f"; commune {entry.commune_code} renamed from {' / '.join(yaml_quote(n) for n in old_names)}"
               if old_names else "")
    kid = jwk_thumbprint(jwk)
    for other in config.stations:
        if kid in other.kids and other.id != entry.station_id:
            raise RegistryError(f"key {kid} is already registered for station {other.id!r}")
    existing = config.station(entry.station_id)
    if existing is not None and existing.commune_code != entry.commune_code:
        raise RegistryError(f"station {entry.station_id!r} is registered for commune "
                            f"{existing.commune_code} ({existing.commune_name}), not "
                            f"{entry.commune_code}: use a new station id for another commune")
    new_key: dict[str, str] | None = jwk
    add_pw = False
    if existing is not None:
        new_key = None if kid in existing.kids else jwk
        add_pw = existing.mqtt_password_file != pw_file
        if new_key is None and not add_pw and not old_names:
            return "key already registered", config
    if dry_run:
        return ("station added" if existing is None else "key added" if new_key is not None
                else "key already registered") + renamed, _checked(_expected_data(
                    data, entry, new_key, pw_file, add_pw, new_station=existing is None), path)
    raw_station = next((s for s in data.get("stations") or []
                        if isinstance(s, dict) and s.get("id") == entry.station_id), None)
    want = _expected_data(data, entry, new_key, pw_file, add_pw, new_station=existing is None)
    new_text = _edit_text(text, raw_station, entry, new_key, pw_file, add_pw)
    if new_text is None or _parsed(new_text) != want:
        backup = path.with_name(f"{path.name}.bak")
        shutil.copy2(path, backup)
        new_text = ("# Rewritten by radio-district provision (comments were lost; the previous "
                    f"file is {backup.name}).\n" + yaml.safe_dump(want, allow_unicode=True, sort_keys=False))
    new_config = _checked(yaml.safe_load(new_text), path)  # never write a broken file
    replace_keeping_owner(path, new_text.encode("utf-8"))
    if existing is None:
        return "station added" + renamed, new_config
    return ("key added" if new_key is not None else "key already registered") + renamed, new_config


def _checked(data: Any, path: Path) -> DistrictConfig:
    """The config ``data`` would make; RegistryError listing its problems otherwise."""
    try:
        return parse_district_config(data, path)
    except ConfigError as exc:
        raise RegistryError("the registry would not be valid: " + "; ".join(exc.problems)) from exc


def replace_keeping_owner(path: Path, data: bytes) -> None:
    """Atomic, durable replace of ``path`` keeping its mode and (as root) its owner."""
    st = path.stat()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, st.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.fchown(fd, st.st_uid, st.st_gid)
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive flock on ``directory``: one provision at a time edits the registry."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
