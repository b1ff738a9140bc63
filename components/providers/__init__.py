"""Pulumi dynamic providers of the stack (one per module, self-contained: they are pickled into the state)."""
