"""Configuration generators: pure functions from plain values to file contents, properties or env.

The stack uploads what they return into containers; the test bed writes the same to local files. No secret is
ever part of it: files refer to environment variables, whose values the caller supplies.
"""
