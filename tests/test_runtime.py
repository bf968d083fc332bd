"""The runtime's services: what a restart on the same database keeps and changes."""

from __future__ import annotations

from pathlib import Path

from helpers import make_settings

from emulator.runtime import build_runtime


def test_a_seeded_restart_draws_new_ids_and_a_fresh_database_repeats(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")

    def first_ids(path: str) -> list[str]:
        rt = build_runtime(make_settings(db=path, seed=3))
        try:
            return [rt.ids.uuid() for _ in range(3)]
        finally:
            rt.store.close()

    run = first_ids(db)
    restarted = first_ids(db)
    assert not set(run) & set(restarted)  # a restart must not hand out the same ids again
    assert first_ids(str(tmp_path / "other.db")) == run  # a fresh database repeats the run
    assert first_ids(db) not in (run, restarted)
