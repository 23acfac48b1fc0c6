"""The district office's web console (issue 12): a Starlette app on the collector's store.

:func:`~district_collector.web.app.create_app` is the composition root. Pages and the
JSON API under ``/api/v1/`` render the data of :mod:`district_collector.views` and call
:mod:`district_collector.accounts` for users, sessions, tokens and the audit log; this
package holds only HTTP: auth and CSRF (:mod:`.context`), headers (:mod:`.security`),
strings (:mod:`.i18n`), templates and static assets served by the app itself.
"""
