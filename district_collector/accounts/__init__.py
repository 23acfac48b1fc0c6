"""The district console's accounts: users and roles, password hashing, login throttling,
API tokens, login sessions and the audit log.

:mod:`~district_collector.accounts.service` is the face (the ``radio-district user``
commands and the web console call it); :mod:`~district_collector.accounts.model` holds the
records and errors; rows live in the store
(:class:`~district_collector.store.base_accounts.AccountsStore`).
"""
