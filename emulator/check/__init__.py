"""payter-emulator check: Payter's go-live suite against a CPO backend (scenarios, runner,
reports)."""
