"""Configuration generators: pure functions from plain values to file contents, properties or env.

The stack uploads what they return into containers; the test bed writes the same to local files.
Only addresses differ between the two. No secret value is ever part of what they return: files
refer to environment variables, and the caller supplies those values (as Pulumi secrets in the stack).
"""
