"""The loudness step of ``schedule publish`` (and ``broadcast``): measure, normalise, record.

:func:`loudness_stage` is the one call :mod:`district_collector.schedules.publish` makes per
media source. With ``media.loudness_target_lufs`` set (default -16 LUFS) and a media
directory configured, the source is normalised (:mod:`district_collector.media.normalise`)
into the media directory and that copy is what gets published (its SHA-256, bytes and
duration); with ``loudness_target_lufs: null`` the source is published as it is and only
measured. Either way the segment records ``loudness: {measured_lufs, target_lufs,
true_peak_dbtp}`` (docs/protocol.md): the source's integrated loudness, the target (null
when not normalised) and the true peak of the file published. A district config without
a ``media`` section (every segment a URL, nothing served from here) skips this step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from district_collector.config import DistrictConfig
from district_collector.media.loudness import LoudnessError, measure
from district_collector.media.normalise import normalise
from radio_protocol.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Staged:
    """What to publish: ``path`` (the source itself, or the normalised copy in the media
    directory) and the segment's ``loudness`` member."""

    path: Path
    loudness: dict[str, Any] | None

    @property
    def normalised(self) -> bool:
        return self.loudness is not None and self.loudness.get("target_lufs") is not None


def loudness_stage(source: Path, config: DistrictConfig, where: str) -> Staged:
    """Measure ``source`` and, when configured, write its normalised copy; see the module.

    Raises ConfigError naming ``where`` (the catalogue line) for a file that cannot be
    read or a media directory not writable. A file that can be read but not measured
    (shorter than 0.4 s, silent, more than 5 channels) is published as it is, with a
    warning and no ``loudness`` member.
    """
    if config.media is None:  # no media section: nothing is served from here, nothing to normalise
        return Staged(source, None)
    target = config.media.loudness_target_lufs
    try:
        if target is None:
            found = measure(source)
            member = {"measured_lufs": round(found.integrated_lufs, 2), "target_lufs": None,
                      "true_peak_dbtp": round(found.true_peak_dbtp, 2)}
            return Staged(source, member)
        done = normalise(source, target, config.media.dir)
    except LoudnessError as exc:
        if exc.kind == "unreadable":
            raise ConfigError([f"{where}: {exc}"]) from exc
        log.warning("media not normalised, published as it is: %s", exc)  # too short, silent...
        return Staged(source, None)
    except OSError as exc:
        raise ConfigError([f"{where}: cannot write the normalised copy into {config.media.dir}: {exc}"]) from exc
    log.info("media normalised source=%s measured_lufs=%.2f target_lufs=%.1f gain_db=%.2f limited=%s "
             "true_peak_dbtp=%.2f copy=%s", source, done.source.integrated_lufs, target, done.gain_db,
             done.limited, done.result.true_peak_dbtp, done.path.name)
    member = {"measured_lufs": round(done.source.integrated_lufs, 2), "target_lufs": float(target),
              "true_peak_dbtp": round(done.result.true_peak_dbtp, 2)}
    return Staged(done.path, member)
