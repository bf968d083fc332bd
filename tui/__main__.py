"""``python -m tui --connect URL``: the TUI on its own, without the emulator package.

The same as ``payter-emulator tui``; this entry point needs nothing but the ``tui`` package,
which is what textual-serve runs once per browser tab.
"""

from __future__ import annotations

import argparse
import os

from tui.app import make_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tui", description="Terminal UI of the Payter emulator."
    )
    parser.add_argument(
        "--connect",
        default=os.environ.get("EMULATOR_TUI_CONNECT", "http://127.0.0.1:8080"),
        help="base URL of the emulator [env: EMULATOR_TUI_CONNECT]",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("EMULATOR_ADMIN_TOKEN"),
        help="bearer token of the control API [env: EMULATOR_ADMIN_TOKEN]",
    )
    parser.add_argument(
        "--cpo-sim",
        default=os.environ.get("EMULATOR_TUI_CPO_SIM"),
        help="base URL of the simulated CPO, for the charger panel [env: EMULATOR_TUI_CPO_SIM]",
    )
    parser.add_argument(
        "--cpo-sim-token",
        default=os.environ.get("EMULATOR_CPO_SIM_ADMIN_TOKEN"),
        help="bearer token of the simulated CPO's control API (default: the admin token) "
        "[env: EMULATOR_CPO_SIM_ADMIN_TOKEN]",
    )
    args = parser.parse_args(argv)
    make_app(
        args.connect,
        admin_token=args.admin_token,
        cpo_sim_url=args.cpo_sim,
        cpo_sim_token=args.cpo_sim_token,
    ).run()


if __name__ == "__main__":  # pragma: no cover
    main()
