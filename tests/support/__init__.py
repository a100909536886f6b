"""Helpers shared by the test suites: real-service provisioning, databases, builders."""
