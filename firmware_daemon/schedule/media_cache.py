"""Content-addressed media cache: ``data_dir/media/<sha256>``.

Media is fetched ahead of time over HTTP(S) (urllib), into ``<sha256>.part``; a broken
download resumes with a ``Range`` request. A file becomes ``<sha256>`` only once its
SHA-256 matches, and it is hashed again before each airing. A cached file is also hashed
once per process by the first fetch round (and its size checked at every round): a file
damaged on disk is set aside as ``<sha256>.corrupt`` and fetched again, so the status
lists it in ``media_missing`` before its slot instead of the slot failing unannounced. The only names ever used
as paths are SHA-256 hex digests validated here: file names from the network never
become paths. Files no schedule refers to are pruned.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from hal.errors import MediaError
from radio_protocol.durable import ensure_private_dir, fsync_dir
from radio_protocol.jose import file_sha256
from radio_protocol.schedule.model import Media, Schedule
from radio_protocol.schedule.parse import check_media_url

log = logging.getLogger(__name__)

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 256 * 1024


class FetchError(MediaError):
    """A media file could not be fetched (network, HTTP status, size or hash mismatch)."""

    def __init__(self, message: str) -> None:
        super().__init__("media-missing", message)


class MediaCache:
    """The station's media files, named by their SHA-256."""

    def __init__(self, directory: Path, timeout_s: float = 30.0) -> None:
        self.directory = Path(directory)
        ensure_private_dir(self.directory)
        self.timeout_s = timeout_s
        self._verified: set[str] = set()  # hashed by this process and found right

    def path_for(self, sha256: str) -> Path:
        if not _SHA_RE.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.directory / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def missing(self, schedule: Schedule | None) -> list[str]:
        """Ids of the schedule's segments whose media is not (yet) in the cache, or is
        there with the wrong size (a cheap look: no hashing)."""
        if schedule is None:
            return []
        return [seg.id for seg in schedule.segments if not self._size_ok(seg.media)]

    def _size_ok(self, media: Media) -> bool:
        try:
            return self.path_for(media.sha256).stat().st_size == media.bytes
        except FileNotFoundError:
            return False

    def _set_aside(self, path: Path, sha256: str) -> None:
        self._verified.discard(sha256)
        os.replace(path, path.with_name(f"{sha256}.corrupt"))
        log.error("media corrupt sha256=%s moved to %s.corrupt", sha256, sha256)

    def for_airing(self, sha256: str) -> Path:
        """The verified file for ``sha256``; raises MediaError ``media-missing`` or
        ``media-corrupt`` (a corrupt file is set aside so it is fetched again)."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise MediaError("media-missing", f"media {sha256[:12]} is not in the cache")
        if file_sha256(path) != sha256:
            self._set_aside(path, sha256)
            raise MediaError("media-corrupt", f"media {sha256[:12]} does not match its SHA-256")
        self._verified.add(sha256)
        return path

    def fetch(self, media: Media) -> Path:
        """Download ``media`` unless already cached; resume a ``.part`` file with Range.

        Raises FetchError. The final file appears atomically and only with the right hash.
        """
        final = self.path_for(media.sha256)
        if final.is_file():
            if self._size_ok(media) and (media.sha256 in self._verified
                                         or file_sha256(final) == media.sha256):
                self._verified.add(media.sha256)
                return final
            self._set_aside(final, media.sha256)  # damaged on disk: fetch it again
        why = check_media_url(media.url)
        if why:
            raise FetchError(f"media URL refused: {why}")
        part = final.with_name(f"{media.sha256}.part")
        have = part.stat().st_size if part.exists() else 0
        if have > media.bytes:
            part.unlink()
            have = 0
        if have < media.bytes:
            self._download(media, part, have)
        got = file_sha256(part)
        if got != media.sha256:
            part.unlink(missing_ok=True)
            raise FetchError(f"{media.url}: SHA-256 {got[:12]} does not match {media.sha256[:12]}")
        os.replace(part, final)
        fsync_dir(self.directory)
        self._verified.add(media.sha256)
        log.info("media fetched sha256=%s bytes=%d", media.sha256, media.bytes)
        return final

    def _download(self, media: Media, part: Path, have: int) -> None:
        request = urllib.request.Request(media.url, headers={"User-Agent": "commune-radio-station"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = response.status
                if have and status != 206:
                    have = 0  # the server ignored Range: start over
                elif status not in (200, 206):
                    raise FetchError(f"{media.url}: HTTP {status}")
                with part.open("r+b" if have else "wb") as fh:
                    fh.seek(have)
                    fh.truncate()
                    written = have
                    while True:
                        block = response.read(_CHUNK)
                        if not block:
                            break
                        written += len(block)
                        if written > media.bytes:
                            raise FetchError(f"{media.url}: more than the announced {media.bytes} bytes")
                        fh.write(block)
                    fh.flush()
                    os.fsync(fh.fileno())
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{media.url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchError(f"{media.url}: {exc}") from exc
        if part.stat().st_size != media.bytes:
            raise FetchError(f"{media.url}: got {part.stat().st_size} of {media.bytes} bytes (will resume)")

    def fetch_all(self, schedule: Schedule | None) -> list[str]:
        """Fetch every media file of ``schedule``; return the ids of segments still missing."""
        if schedule is None:
            return []
        seen: set[str] = set()
        for seg in schedule.segments:
            if seg.media.sha256 in seen:
                continue
            seen.add(seg.media.sha256)
            try:
                self.fetch(seg.media)
            except FetchError as exc:
                log.warning("media fetch failed segment=%s error=%s", seg.id, exc)
        return self.missing(schedule)

    def prune(self, keep: Iterable[str]) -> int:
        """Delete cached files (and leftovers) whose SHA-256 is not in ``keep``."""
        keep_set = set(keep)
        removed = 0
        for entry in self.directory.iterdir():
            name = entry.name.split(".", 1)[0]
            if entry.is_file() and name not in keep_set:
                entry.unlink()
                removed += 1
        if removed:
            fsync_dir(self.directory)
            log.info("media pruned files=%d", removed)
        return removed
