"""Clients of the running services, one per post-deploy step (named like its provider in components/providers/)
plus the REST clients they share: each does what its provider does, for the provider, `make demo` and the tests."""
