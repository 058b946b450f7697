"""The production doors in front of Triton: the REST gateway and the login both doors share."""
