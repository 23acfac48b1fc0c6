"""Alert rules, one module per family: ``station`` (health), ``airings``, ``scoring``, ``evidence``.

Each rule is a function of a :class:`~district_collector.alerts.rules.context.RuleContext`
returning a :class:`~district_collector.alerts.rules.context.RuleResult`. Rules read only
what the store holds, i.e. what the collector verified (statuses and events whose
signatures checked; quarantine rows only as evidence of a problem, never as a status).
"""
