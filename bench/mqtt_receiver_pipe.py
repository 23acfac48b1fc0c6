"""The Python half of a ``mosquitto_sub`` receive path, run by :mod:`bench.mqtt_paths`.

``mosquitto_sub -q 1 -F '%t %l %p'`` (C: MQTT parse, PUBACK) writes each message as
``TOPIC LENGTH PAYLOAD\\n`` to a pipe; ``python -m bench.mqtt_receiver_pipe COUNT`` reads
that pipe on stdin in large reads (64 KiB), splits the frames (the length makes any
payload byte safe; the topic must have no space, as ours never do) and puts ``(topic, payload)`` on a queue that a worker thread drains in
batches of up to 500 (the collector's hand-off, as :mod:`bench.mqtt_receiver`). Prints
``ready`` at start and ``done BYTES`` after COUNT messages (their payloads' total size); exit status 1 if the pipe closes
first or a frame is malformed.
After ``done`` the process keeps every thread, idle, until it is terminated: a thread
that ended would take its CPU time out of ``/proc/<pid>/task``, where
:mod:`bench.mqtt_paths` reads it.
"""

from __future__ import annotations

import io
import queue
import sys
import threading


def frames(buffer: bytearray) -> tuple[list[tuple[str, bytes]], int]:
    """The complete ``TOPIC LENGTH PAYLOAD\\n`` frames at the start of ``buffer`` and how many
    bytes they take; ValueError on a malformed frame."""
    out: list[tuple[str, bytes]] = []
    pos = 0
    end = len(buffer)
    while True:
        space = buffer.find(b" ", pos)
        if space < 0:
            break
        space2 = buffer.find(b" ", space + 1)
        if space2 < 0:
            break
        length = int(buffer[space + 1:space2])
        stop = space2 + 1 + length
        if stop >= end:
            break
        if buffer[stop] != 0x0A:
            raise ValueError(f"frame at byte {pos}: no newline after {length} payload bytes")
        out.append((buffer[pos:space].decode(), bytes(buffer[space2 + 1:stop])))
        pos = stop + 1
    return out, pos


def main(argv: list[str]) -> int:
    count = int(argv[0])
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    done = threading.Event()
    size = [0]

    def worker() -> None:
        taken = 0
        while taken < count:
            batch = [inbox.get()]
            while len(batch) < 500:
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            taken += len(batch)
            size[0] += sum(len(item[1]) for item in batch)
        done.set()
        threading.Event().wait()  # hold the thread (see the module docstring)

    threading.Thread(target=worker, daemon=True).start()
    print("ready", flush=True)
    source = sys.stdin.buffer
    assert isinstance(source, io.BufferedReader)
    buffer = bytearray()
    read = 0
    while read < count:
        chunk = source.read1(65536)
        if not chunk:
            print(f"the pipe closed after {read} of {count} messages", file=sys.stderr)
            return 1
        buffer += chunk
        got, used = frames(buffer)
        del buffer[:used]
        for item in got:
            inbox.put(item)
        read += len(got)
    done.wait(600)
    print(f"done {size[0]}", flush=True)
    threading.Event().wait()  # until terminated
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
