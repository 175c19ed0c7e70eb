"""Helpers every test package shares: settings and engines on the test database, cases walked to a
step, BPMN variants, the `relief` command line in-process or as a real subprocess.

Test modules import from here, never from each other.
"""
