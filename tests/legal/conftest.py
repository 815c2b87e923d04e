"""The centre and the offline station of the lifecycle and capture tests, reused for the wiring tests."""
from tests.capture.test_station import offline_station  # noqa: F401
from tests.lifecycle.conftest import centre  # noqa: F401
