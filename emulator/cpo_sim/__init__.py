"""A simulated CPO backend with simulated chargers (``payter-emulator cpo-sim``).

The other side of the emulator: an OCPI 2.2.1 / 2.3.0 CPO that hosts what a CPO hosts for
Payter (Locations, Tariffs, Sessions and CDRs as Sender; Commands, Tokens and Payments as
Receiver), pushes EVSE statuses, Sessions and CDRs to the token owner, and simulates the cars
and chargers on the injected clock. It is also a small reference of a correct CPO; the
behaviour presets (:mod:`emulator.cpo_sim.presets`) make it wrong on purpose, one rule at a
time.

Layout: ``charger`` (pure simulation of EVSEs and cars), ``billing`` (the CPO's pricing of a
session under a tariff), ``catalog`` (fixtures and the per-version shapes of Locations and
Tariffs), ``backend`` (state, clock, pushes), ``modules`` (the OCPI handlers), ``control``
(its ``/__admin/`` routes) and ``node`` (the server).
"""
