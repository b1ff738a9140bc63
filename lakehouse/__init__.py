"""Pure, shared core of the lakehouse: versions, settings and configuration generators; the service
clients the post-deploy steps run live apart, in lakehouse/clients/.

Imported by the Pulumi components (components/) and by the local test bed (testbed/).
Nothing here imports pulumi, components or testbed, so both sides run the same code.
"""
