"""Schedules (docs/protocol.md, "schedule"): model, parser, builder, rules and expansion.

- :mod:`~radio_protocol.schedule.model`: :class:`Schedule` and its parts, the limits;
- :mod:`~radio_protocol.schedule.parse`: :func:`parse_schedule` (raises ``ScheduleError``);
- :mod:`~radio_protocol.schedule.build`: :func:`build_schedule`;
- :mod:`~radio_protocol.schedule.rules`: RFC 5545 rules in a timezone;
- :mod:`~radio_protocol.schedule.expand`: :class:`Slot`, :func:`expand`, :func:`due_slots`,
  :func:`next_slots` (pure functions of (schedule, now)).

Both the station and the district import these; neither imports the other.
"""
