"""The province simulator (issue 14): ``python -m bench.loadgen``.

:mod:`bench.loadgen.fleet` (many real MQTT station clients on one selector loop),
:mod:`bench.loadgen.driver` (one process driving a slice of them, phase by phase),
:mod:`bench.loadgen.province` (broker, collector workers, drivers, and the check of the
store against what was sent).
"""
