"""The web console's data: pure functions of (store, config, period, now) returning dataclasses.

No HTTP here: ``district_collector.web`` renders these and serves their ``as_json()``.
Modules: ``fleet`` (every station's state), ``compliance`` (communes x weeks/months, from
the report's own code), ``station`` (one station's as-run log, upcoming slots, status
history, keys), ``catalogue`` (upload check, preview, publish, rollout), ``evidence``
(the bundle as a zip, the report's PDF/XLSX). Every result is JSON-ready through
``as_json()`` (times RFC 3339, dates ISO).
"""
