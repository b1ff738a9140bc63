"""Pure, shared core of the lakehouse: versions, settings and configuration generators (the service clients
live apart, in lakehouse/clients/). It imports neither pulumi, components nor testbed, so the stack and the
test bed run the same code.
"""
