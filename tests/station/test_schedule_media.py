"""Media cache over a real local HTTP server: fetch, resume with Range, verify, prune."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from schedule_testkit import LOCAL_MEDIA, media_server, payload, segment, sha256_hex

from firmware_daemon.schedule.media_cache import FetchError, MediaCache
from hal.errors import MediaError
from radio_protocol.schedule.model import Media
from radio_protocol.schedule.parse import parse_schedule

DATA = os.urandom(300_000)
SHA = sha256_hex(DATA)


def test_media_fetch_verifies_and_names_by_sha(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    hostile = "/m/evil%20name%3B.mp3?name=../../etc/passwd"  # what the URL calls it never matters
    with media_server() as server:
        server.files[hostile] = DATA
        path = cache.fetch(Media(SHA, server.url(hostile), len(DATA), 10.0))
        assert server.requests == [(hostile, None)]
    assert path == tmp_path / "media" / SHA
    assert path.read_bytes() == DATA
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [SHA]


def test_media_resume_after_broken_download(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    media_info = None
    with media_server() as server:
        server.files["/m/seg.mp3"] = DATA
        server.cut_after["/m/seg.mp3"] = 100_000
        media_info = Media(SHA, server.url("/m/seg.mp3"), len(DATA), 10.0)
        with pytest.raises(FetchError, match="will resume"):
            cache.fetch(media_info)
        part = tmp_path / "media" / f"{SHA}.part"
        assert part.stat().st_size == 100_000
        assert cache.missing(parse_schedule(payload(segments=[segment(sha=SHA, size=len(DATA))]))) == ["cds-a"]
        path = cache.fetch(media_info)
        assert server.requests[-1] == ("/m/seg.mp3", "bytes=100000-")
    assert path.read_bytes() == DATA and not part.exists()


def test_media_wrong_hash_is_not_kept(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    with media_server() as server:
        server.files["/m/seg.mp3"] = DATA[:-1] + b"\x00"
        with pytest.raises(FetchError, match="does not match"):
            cache.fetch(Media(SHA, server.url("/m/seg.mp3"), len(DATA), 10.0))
    assert list((tmp_path / "media").iterdir()) == []


def test_media_larger_than_announced_is_refused(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    with media_server() as server:
        server.files["/m/seg.mp3"] = DATA + b"more"
        with pytest.raises(FetchError, match="more than the announced"):
            cache.fetch(Media(SHA, server.url("/m/seg.mp3"), len(DATA), 10.0))


def test_media_http_error_and_refused_scheme(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    with media_server() as server:
        with pytest.raises(FetchError, match="HTTP 404"):
            cache.fetch(Media(SHA, server.url("/nope.mp3"), len(DATA), 10.0))
    with pytest.raises(FetchError, match="refused"):
        cache.fetch(Media(SHA, "file:///etc/passwd", 10, 1.0))


def test_media_corrupt_at_airing_time_is_set_aside(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    (tmp_path / "media" / SHA).write_bytes(DATA[:-1] + b"!")
    with pytest.raises(MediaError) as info:
        cache.for_airing(SHA)
    assert info.value.reason == "media-corrupt"
    assert not cache.has(SHA)
    with pytest.raises(MediaError) as missing:
        cache.for_airing(SHA)
    assert missing.value.reason == "media-missing"


def test_media_prune_keeps_only_referenced(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    keep, old = "1" * 64, "2" * 64
    for name in (keep, old, f"{old}.part", f"{old}.corrupt"):
        (tmp_path / "media" / name).write_bytes(b"x")
    assert cache.prune({keep}) == 3
    assert [p.name for p in (tmp_path / "media").iterdir()] == [keep]


@pytest.mark.parametrize("bad", ["../etc/passwd", "A" * 64, "abc", ""])
def test_media_cache_never_uses_other_names_as_paths(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        MediaCache(tmp_path / "media", LOCAL_MEDIA).path_for(bad)


def test_media_damaged_on_disk_is_listed_before_its_slot_and_fetched_again(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", LOCAL_MEDIA)
    final = tmp_path / "media" / SHA
    with media_server() as server:
        server.files["/m/seg.mp3"] = DATA
        schedule = parse_schedule(payload(segments=[segment(sha=SHA, size=len(DATA), url=server.url("/m/seg.mp3"))]))
        final.write_bytes(DATA[:-1] + b"\x00")  # same size, flipped byte (bad SD card)
        assert cache.fetch_all(schedule) == []  # hashed once, set aside, fetched again
        assert final.read_bytes() == DATA and (tmp_path / "media" / f"{SHA}.corrupt").exists()
        assert [r[0] for r in server.requests] == ["/m/seg.mp3"]
        assert cache.fetch_all(schedule) == [] and len(server.requests) == 1  # verified: not hashed again
        final.write_bytes(DATA[:1000])  # truncated later: the cheap size look sees it
        assert cache.missing(schedule) == ["cds-a"]
    # the district is unreachable now: the damaged file stays listed as missing
    assert cache.fetch_all(schedule) == ["cds-a"]
    assert not final.exists()
