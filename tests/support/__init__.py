"""Test helpers shared by the test modules (real servers live in tests/servers/)."""
