"""The control API under /__admin/: for the operator, CI scripts and the TUI."""
