"""``python -m emulator`` and the ``payter-emulator`` command."""

import gc
import sys

# The commands that serve until stopped. Their start-up builds tens of thousands of objects
# (modules, classes, validators, routes) that live as long as the process; the cyclic
# collector would walk them over and over while they are made, for next to no garbage. It is
# off while such a command starts, and back on (with the start-up's objects frozen, so that
# later collections skip them) once the node serves: emulator.node.started().
SERVING = frozenset({"serve", "cpo-sim", "demo"})


def run() -> None:
    if SERVING.intersection(sys.argv[1:2]):
        gc.disable()
    from emulator.cli import main

    main()


if __name__ == "__main__":
    run()
