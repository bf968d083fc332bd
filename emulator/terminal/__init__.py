"""The virtual Payter terminal: device state machine, screens, test cards, acquirer, host.

Both drivers (the CPS REST API and Payter's own OCPI journey) command a terminal through
:class:`emulator.terminal.host.TerminalHost`; the device itself is pure
(:mod:`emulator.terminal.device`).
"""
