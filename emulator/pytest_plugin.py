"""pytest plugin (entry point ``pytest11``): fixtures to run the emulator in a test.

Import-light on purpose: pytest loads it in every session of a project that installs the
package; the emulator itself is imported only when a fixture is used.
"""
