"""One module per server: how to configure it with lakehouse.generators, start it, and know it is usable."""
