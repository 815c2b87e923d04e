"""Shared test helpers. Test modules and conftest files import helpers from here only, never from another test
module; fixtures several folders use are in tests/conftest.py."""
