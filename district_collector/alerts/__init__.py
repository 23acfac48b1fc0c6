"""District alerts: rules over verified stored data, kept in the store, sent by e-mail and webhook.

Public face for the console and commands: :func:`district_collector.alerts.api.open_alerts`,
:func:`~district_collector.alerts.api.alert_history`, :func:`~district_collector.alerts.api.acknowledge`.
"""
