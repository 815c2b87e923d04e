from tests.lifecycle.conftest import centre  # noqa: F401  (the same one-home centre)
