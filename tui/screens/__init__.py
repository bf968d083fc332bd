"""The TUI's screens: the main layout and the modal views."""
