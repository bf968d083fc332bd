"""Payter's OCPI module handlers, the HTTP face of :mod:`emulator.ptp` (parse, call, answer).

The protocol itself (transport, models, client, registration) is :mod:`emulator.ocpi`; the
simulated CPO keeps its own handlers in :mod:`emulator.cpo_sim.modules`.
"""
