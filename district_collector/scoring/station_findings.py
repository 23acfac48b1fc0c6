"""One station's evidence integrity in the report: seq range, gaps, chain breaks, conflicts,
signatures that do not verify, and the findings (plain sentences for an auditor) they raise.

:func:`~district_collector.scoring.compute.score` collects the numbers while it walks the
station's events; :func:`station_summary` shapes them into the report's ``stations`` entry and
its findings. None of this changes a tier: it tells the auditor how complete and how
trustworthy the evidence of each station is.
"""

from __future__ import annotations

from typing import Any

from district_collector.registry import RegisteredStation
from district_collector.scoring.period import Period

MAX_LISTED_SEQS = 10  # seqs named in one "does not verify" finding


def seq_gaps(seqs: list[int]) -> list[list[int]]:
    """Missing seqs between consecutive present ones (``seqs`` ascending), as inclusive
    ``[from, to]`` ranges."""
    gaps = []
    for a, b in zip(seqs, seqs[1:], strict=False):
        if b > a + 1:
            gaps.append([a + 1, b - 1])
    return gaps


def station_summary(sid: str, reg: RegisteredStation | None, commune: str | None, events: int,
                    seqs: list[int], breaks: list[int], conflicts: list[int],
                    variants: dict[int, list[str]], unverified: list[int], n_unknown: int,
                    period: Period) -> tuple[dict[str, Any], list[str]]:
    """The report's entry for station ``sid`` and its findings.

    ``events``: distinct events stored (any time); ``seqs``: their seqs ascending; ``breaks``:
    seqs whose ``prev`` does not match the event before; ``conflicts``: seqs received with
    different payloads, ``variants`` their payload hashes; ``unverified``: seqs whose
    signature does not verify; ``n_unknown``: events of the period of an unregistered station.
    """
    gaps = seq_gaps(seqs)
    out = {"id": sid, "commune": commune, "first_seq": seqs[0] if seqs else None,
           "last_seq": seqs[-1] if seqs else None, "events": events, "gaps": gaps, "chain_breaks": breaks,
           "conflicts": conflicts, "bad_signatures": unverified}
    findings: list[str] = []
    if reg is None:
        findings.append(f"Station {sid} is not in the registry: its {n_unknown} "
                        f"event(s) of the period do not count.")
    elif not events:
        findings.append(f"Station {sid} ({reg.commune_name}) has no events in the period "
                        f"{period.start}..{period.end}.")
    for lo, hi in gaps:
        what = f"seq {lo}" if lo == hi else f"seqs {lo}-{hi}"
        findings.append(f"Station {sid}: {what} missing ({hi - lo + 1} event(s) not received).")
    for s in breaks:
        findings.append(f"Station {sid}: seq {s} does not chain to seq {s - 1} (prev differs).")
    if unverified:
        listed = ", ".join(map(str, unverified[:MAX_LISTED_SEQS]))
        more = "..." if len(unverified) > MAX_LISTED_SEQS else ""
        findings.append(f"Station {sid}: {len(unverified)} event(s) do not verify with the station's "
                        f"registered keys (seq {listed}{more}); they do not count.")
    for s in conflicts:
        findings.append(f"Station {sid}: seq {s} was received with {len(variants[s])} "
                        f"different payloads (conflict); none of them counts.")
    return out, findings
