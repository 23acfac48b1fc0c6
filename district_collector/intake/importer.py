"""``radio-district import FILE...``: events from JSON Lines files into the same store.

A file holds one flattened JWS per line (the station's ``events`` output, or an
evidence ``events.jsonl``), any order, duplicates allowed, blank lines ignored. The
station of each line is taken from its payload, must be registered, and the JWS must
verify with that station's registered keys: exactly the checks of live delivery, into
the same tables, so importing what was delivered live (or importing twice) changes
nothing. Rejected lines go to quarantine with source ``import:FILE:LINE``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from district_collector.config import DistrictConfig
from district_collector.intake.ingest import Ingestor
from district_collector.store.base import Store
from radio_protocol.clock import Clock, SystemClock
from radio_protocol.errors import CommuneRadioError

log = logging.getLogger(__name__)

BATCH_LINES = 1000
COUNT_NAMES = ("accepted", "duplicate", "conflict", "rejected")


class ImportFileError(CommuneRadioError):
    """An import file cannot be read."""


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, start=1):
                line = line.strip()
                if line:
                    yield number, line
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read: {exc.strerror}") from exc


def import_files(config: DistrictConfig, store: Store, paths: Iterable[Path],
                 clock: Clock | None = None) -> Counter[str]:
    """Import every file; return counts ``accepted``/``duplicate``/``conflict``/``rejected``.

    Each batch of lines is committed in one transaction. A file that cannot be read
    raises ImportFileError after the files before it were imported.
    """
    clock = clock or SystemClock()
    ingestor = Ingestor(config, store)
    counts: Counter[str] = Counter({name: 0 for name in COUNT_NAMES})
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise ImportFileError(f"{path}: no such file")
        batch: list[tuple[str | None, bytes, str]] = []
        file_counts: Counter[str] = Counter()
        for number, line in _lines(path):
            batch.append((None, line, f"import:{path.name}:{number}"))
            if len(batch) >= BATCH_LINES:
                file_counts.update(ingestor.ingest(batch, clock.now()).counts)
                batch = []
        if batch:
            file_counts.update(ingestor.ingest(batch, clock.now()).counts)
        counts.update(file_counts)
        log.info("imported file=%s %s", path, " ".join(f"{k}={file_counts[k]}" for k in COUNT_NAMES))
    return counts
