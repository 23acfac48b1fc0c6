"""The scheduler's slots: :mod:`radio_protocol.schedule.expand`, named here for the station.

A slot is one scheduled start of one segment; :func:`due_slots` classifies the slots
around now, :func:`next_slots` lists the coming ones. All pure functions of
(schedule, now), shared with the district.
"""

from __future__ import annotations

from radio_protocol.schedule.expand import (
    Due,
    Slot,
    due_slots,
    expand,
    media_in_use,
    next_slots,
    slot_sort_key,
)

__all__ = ["Due", "Slot", "due_slots", "expand", "media_in_use", "next_slots", "slot_sort_key"]
