"""``verify DIR``: check an evidence bundle from its own files, with no config and no database.

Checks, each reported exactly when it fails:

1. ``keys.json`` is a readable registry;
2. ``manifest.jws`` is the district's signature (a key of ``keys.json``'s district, or
   the pinned ``--district-key``) over exactly the bytes of ``manifest.json``;
3. every file the manifest lists has its SHA-256 and size, and the bundle's core files
   are listed;
4. every line of ``events.jsonl`` is a JWS that verifies against its station's keys
   (``cr-event+json``), and every line of ``schedules.jsonl`` one that verifies against
   the district's keys (``cr-schedule+json``);
5. the report recomputed from the events, the registry and the schedules, with the
   criteria set of ``criteria.json`` (the letter's set when the manifest lists none, as in
   bundles made before criteria were data), equals ``report.json`` (which lists each station's seq range, gaps, chain breaks and
   conflicts, so a removed or altered event cannot hide).

Gaps, chain breaks and conflicts that the signed report lists (and the events confirm)
were already in the data the district received: they are shown as findings and do not
fail verification. An event whose signature does not verify against ``keys.json`` is a
verification failure only, never a finding: the collector stores verified events only,
so such a line was changed after export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from district_collector.evidence.altered import (
    AlteredEvent,
    claimed_identity,
    placeholder,
    settle_identities,
    stand_in,
)
from district_collector.evidence.bundle import (
    CRITERIA,
    EVENTS,
    KEYS,
    MANIFEST,
    MANIFEST_JWS,
    REPORT,
    SCHEDULES,
)
from district_collector.evidence.report_diff import report_differences
from district_collector.registry import Registry, RegistryError
from district_collector.scoring.compute import (
    EventFacts,
    Period,
    ScoringError,
    facts_from_payload,
    select_period_events,
)
from district_collector.scoring.criteria import CriteriaSet, default_criteria, parse_criteria
from district_collector.scoring.report import build_report
from radio_protocol.errors import ConfigError, JoseError
from radio_protocol.jose import KeyRing, parse_jws, sha256_hex, verify
from radio_protocol.jsonlimits import loads_bounded
from radio_protocol.names import EVENT_TYP, MANIFEST_TYP, SCHEDULE_TYP

REQUIRED_FILES = (EVENTS, KEYS, REPORT)


@dataclass
class VerifyResult:
    """``problems`` fail verification; ``findings`` are shown to the reader."""

    directory: Path
    problems: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    district_kid: str | None = None
    district: str | None = None
    period: str | None = None
    checked: list[str] = field(default_factory=list)
    pinned: str | None = None
    region: str = "district"  # the English word of the region's level (keys.json, else its name)
    criteria: str | None = None  # the criteria set recomputed with: "id (name)"

    @property
    def ok(self) -> bool:
        return not self.problems


def _read(result: VerifyResult, name: str, required: bool = True) -> bytes | None:
    path = result.directory / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if required:
            result.problems.append(f"{name}: missing")
    except OSError as exc:
        result.problems.append(f"{name}: cannot read: {exc.strerror}")
    return None


def _check_manifest(result: VerifyResult, registry: Registry, pinned: str | None) -> dict[str, Any] | None:
    """Check the district's signature over manifest.json; return the manifest to go on with.

    When the signature does not hold, the problem is recorded and the unsigned
    manifest.json is still used, so the reader also learns what else does not match.
    """
    manifest_raw, jws = _read(result, MANIFEST), _read(result, MANIFEST_JWS)
    if manifest_raw is None:
        return None
    if jws is not None:
        try:
            verified = verify(jws.strip(), registry.district_keyring(), MANIFEST_TYP)
        except JoseError as exc:
            try:
                kid = parse_jws(jws.strip())[0].get("kid")
            except JoseError:
                kid = None
            result.district_kid = kid if isinstance(kid, str) else None
            result.problems.append(f"{MANIFEST_JWS}: not a valid district signature ({exc})")
        else:
            result.district_kid = verified.kid
            if pinned is not None and verified.kid != pinned:
                result.problems.append(f"{MANIFEST_JWS}: signed by district key {verified.kid}, "
                                       f"not the expected {pinned}")
            if verified.payload.get("district_key") not in (None, verified.kid):
                result.problems.append(f"{MANIFEST}: names district key {verified.payload.get('district_key')}"
                                       f" but is signed by {verified.kid}")
            if verified.payload_bytes != manifest_raw:
                result.problems.append(f"{MANIFEST}: differs from the manifest the district signed "
                                       f"({MANIFEST_JWS})")
    try:
        manifest = loads_bounded(manifest_raw)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        result.problems.append(f"{MANIFEST}: not a JSON object")
        return None
    if manifest.get("district") != registry.district_id:
        result.problems.append(f"{MANIFEST}: district {manifest.get('district')!r} is not "
                               f"{registry.district_id!r} of {KEYS}")
    return manifest


def _check_files(result: VerifyResult, manifest: dict[str, Any]) -> None:
    listed: set[str] = set()
    entries = manifest.get("files")
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            result.problems.append(f"{MANIFEST}: bad file entry {entry!r}")
            continue
        listed.add(name)
        data = _read(result, name)
        if data is None:
            continue
        if sha256_hex(data) != entry.get("sha256") or len(data) != entry.get("bytes"):
            result.problems.append(f"{name}: SHA-256 or size differs from {MANIFEST} (the file was changed)")
    for name in REQUIRED_FILES:
        if name not in listed:
            result.problems.append(f"{MANIFEST}: does not list {name}")
    extra = sorted(p.name for p in result.directory.iterdir()
                   if p.name not in listed and p.name not in (MANIFEST, MANIFEST_JWS))
    for name in extra:
        result.findings.append(f"{name} is not covered by the manifest (not part of the signed evidence).")
    result.checked.append(f"{len(listed)} files against {MANIFEST}")


def _criteria(result: VerifyResult, manifest: dict[str, Any]) -> CriteriaSet | None:
    """The criteria set to recompute with: ``criteria.json`` when the manifest lists it
    (its bytes were checked against the manifest), else the letter's set; None, with a
    problem, when the listed file is not a readable set."""
    entries = manifest.get("files")
    listed = {e.get("name") for e in entries if isinstance(e, dict)} if isinstance(entries, list) else set()
    if CRITERIA not in listed:
        return default_criteria()
    raw = _read(result, CRITERIA)
    if raw is None:
        return None
    try:
        return parse_criteria(loads_bounded(raw), CRITERIA)
    except ValueError:
        result.problems.append(f"{CRITERIA}: not JSON")
    except ConfigError as exc:
        result.problems += exc.problems
    return None


def _events(result: VerifyResult, registry: Registry) -> list[EventFacts]:
    """The facts of the lines of events.jsonl that are readable and verify (or are of an
    unknown station or key); see :func:`_event_lines`."""
    return _event_lines(result, registry)[0]


def _event_lines(result: VerifyResult, registry: Registry,
                 said: Any = None) -> tuple[list[EventFacts], list[AlteredEvent]]:
    """The facts of every line that verifies (or is of an unknown station or key), and the
    lines changed after export (not readable, or the signature fails), told once each later.

    A key unknown to ``keys.json`` is a key since removed from the registry (a finding) when
    the signed report ``said`` lists the event among the station's bad signatures; otherwise
    the line's key id was changed."""
    raw = _read(result, EVENTS) or b""
    facts: list[EventFacts] = []
    altered: list[AlteredEvent] = []
    order: list[tuple[int, str, int]] = []
    rings: dict[str, KeyRing] = {}
    signatures = 0
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{EVENTS} line {n}"
        claimed: Any = None
        try:
            _header, _members, body = parse_jws(line)
            claimed = loads_bounded(body)
            station = claimed.get("station") if isinstance(claimed, dict) else None
        except (JoseError, ValueError) as exc:
            st, seq = claimed_identity(line, claimed if isinstance(claimed, dict) else None)
            altered.append(AlteredEvent(n, st, seq, f"not a readable JWS ({exc})", placeholder(line)))
            continue
        reg = registry.station(station) if isinstance(station, str) else None
        ok = False
        if reg is not None:
            ring = rings.setdefault(reg.id, reg.keyring)
            try:
                verify(line, ring, EVENT_TYP)
                ok = True
                signatures += 1
            except JoseError as exc:
                if exc.reason != "unknown-kid" or not _listed_unverified(said, station, claimed.get("seq")):
                    st, seq = claimed_identity(line, claimed)
                    altered.append(AlteredEvent(n, st, seq, f"signature check failed: {exc}", placeholder(line),
                                                readable=True))
                    continue
                # Signed with a key since removed from the registry: the report already
                # excludes it (bad-signature); a changed kid would break the manifest.
                result.findings.append(f"{where} (station {station}, seq {claimed.get('seq')}): signed with a key "
                                       f"no longer registered for the station; excluded from the score.")
        try:
            facts.append(facts_from_payload(claimed, sha256_hex(body), ok))
            order.append((n, facts[-1].station, facts[-1].seq))
        except ValueError as exc:
            result.problems.append(f"{where}: {exc}")
    settle_identities(altered, order)
    result.checked.append(f"{signatures} event signatures")
    return facts, altered


def _schedules(result: VerifyResult, registry: Registry) -> list[dict[str, Any]]:
    raw = _read(result, SCHEDULES, required=False) or b""
    out = []
    ring = registry.district_keyring()
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(verify(line, ring, SCHEDULE_TYP).payload)
        except JoseError as exc:
            result.problems.append(f"{SCHEDULES} line {n}: not a valid district-signed schedule ({exc})")
    result.checked.append(f"{len(out)} schedule signatures")
    return out


def _listed_unverified(said: Any, station: object, seq: object) -> bool:
    """Whether the signed report lists (station, seq) among the events that do not verify."""
    if not isinstance(said, dict):
        return True  # nothing to tell otherwise: keep the benign reading
    for entry in said.get("stations") or []:
        if isinstance(entry, dict) and entry.get("id") == station:
            return seq in (entry.get("bad_signatures") or [])
    return False


def _signed_report(result: VerifyResult) -> Any:
    """report.json as JSON (None, with a problem, when absent or not JSON)."""
    report_raw = _read(result, REPORT)
    if report_raw is None:
        return None
    try:
        return loads_bounded(report_raw)
    except ValueError:
        result.problems.append(f"{REPORT}: not JSON")
        return None


def verify_bundle(directory: Path | str, district_key: str | None = None) -> VerifyResult:
    """Check the bundle in ``directory``; never raises for a bad bundle (see ``problems``)."""
    result = VerifyResult(Path(directory), pinned=district_key)
    if not result.directory.is_dir():
        result.problems.append(f"{directory}: not a directory")
        return result
    keys_raw = _read(result, KEYS)
    if keys_raw is None:
        return result
    try:
        registry = Registry.from_keys_json(loads_bounded(keys_raw))
    except UnicodeDecodeError:
        result.problems.append(f"{KEYS}: not UTF-8 JSON text")
        return result
    except (ValueError, RegistryError) as exc:
        result.problems.append(f"{KEYS}: {exc}")
        return result
    result.district = f"{registry.district_name} ({registry.district_id})"
    result.region = registry.region.english
    manifest = _check_manifest(result, registry, district_key)
    if manifest is None:
        return result
    _check_files(result, manifest)
    rules = _criteria(result, manifest)
    if rules is None:
        return result
    result.criteria = f"{rules.id} ({rules.name_en})"
    said = _signed_report(result)
    facts, altered = _event_lines(result, registry, said)
    stand_ins = [stand_in(a, said, facts, rules.program) if isinstance(said, dict) else None for a in altered]
    facts += [f for f in stand_ins if f is not None]
    schedules = _schedules(result, registry)
    period_raw = manifest.get("period")
    period_json: dict[str, Any] = period_raw if isinstance(period_raw, dict) else {}
    try:
        period = Period.parse(str(period_json.get("from")), str(period_json.get("to")),
                              str(period_json.get("timezone")))
    except ScoringError as exc:
        result.problems.append(f"{MANIFEST}: {exc}")
        return result
    result.period = f"{period.start}..{period.end} ({period.timezone})"
    outside = len(facts) - len(select_period_events(facts, period))
    if outside:
        result.problems.append(f"{EVENTS}: {outside} event(s) outside the period's seq ranges")
    try:
        recomputed = build_report(facts, registry, period, schedules, rules)
    except ScoringError as exc:
        result.problems.append(f"report cannot be recomputed: {exc}")
        return result
    signed_findings: list[Any] = []
    diffs: list[str] = []
    if said is not None:
        diffs = report_differences(said, recomputed)
        result.checked.append(f"{REPORT} recomputed from the events")
        if isinstance(said, dict) and isinstance(said.get("findings"), list):
            signed_findings = said["findings"]
    for event, substitute in zip(altered, stand_ins, strict=True):
        result.problems.append(event.describe(EVENTS, explained=substitute is not None and not diffs))
    result.problems.extend(diffs)
    # Findings are what the signed report lists and the events confirm; anything else the
    # recomputation finds (e.g. a changed line that no longer verifies) is a report.json
    # difference above, a verification failure.
    result.findings = [f for f in recomputed["findings"] if f in signed_findings] + result.findings
    return result


def in_vietnamese(finding: str) -> str:
    try:
        from district_collector.documents.i18n import finding_text
    except ImportError:  # documents module absent: English only
        return finding
    return finding_text(finding, "vi")


def format_result(result: VerifyResult) -> str:
    """What ``verify`` prints: what was checked, the findings, and a verdict that names the
    district key, since anyone can make a consistent bundle with keys of their own."""
    lines = [f"Bundle / Bộ tài liệu: {result.directory}"]
    if result.district:
        lines.append(f"{result.region[:1].upper()}{result.region[1:]} / Đơn vị: {result.district}"
                     + (f", period {result.period}" if result.period else ""))
    if result.criteria:
        lines.append(f"Criteria set / Bộ tiêu chí: {result.criteria}")
    if result.district_kid:
        lines.append(f"Manifest signed by district key / Khóa ký của đơn vị (RFC 7638): {result.district_kid}")
    if result.checked:
        lines.append("Checked: " + "; ".join(result.checked) + ".")
    if result.findings:
        lines.append("Findings in the received data (shown in the report, not a verification failure) / "
                     "Các phát hiện trong dữ liệu đã nhận (không phải lỗi xác minh):")
        for finding in result.findings:
            lines.append(f"  - {finding}")
            vietnamese = in_vietnamese(finding)
            if vietnamese != finding:
                lines.append(f"    {vietnamese}")
    if not result.ok:
        lines.append("NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC:")
        lines += [f"  - {p}" for p in result.problems]
    elif result.pinned:
        lines.append("VERIFIED / ĐÃ XÁC MINH")
        lines.append(f"  signed by the pinned district key {result.pinned} / "
                     f"ký bằng đúng khóa đã chỉ định")
    else:
        kid = result.district_kid or "?"
        lines.append(f"VERIFIED / ĐÃ XÁC MINH, by district key {kid}")
        lines.append("  The bundle is complete and consistent, but the key was not pinned: anyone can make such a")
        lines.append("  bundle with keys of their own. Check that this key is the one the district publishes, or run")
        lines.append(f"  again with --district-key={kid}")
        lines.append("  Bộ tài liệu đầy đủ và nhất quán, nhưng chưa đối chiếu khóa: hãy kiểm tra khóa trên đúng là")
        lines.append(f"  khóa do đơn vị công bố, hoặc chạy lại với --district-key={kid}")
    return "\n".join(lines) + "\n"
