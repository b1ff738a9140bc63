"""The lakehouse Pulumi program: validated settings -> components -> stack outputs.

Config is read and checked first (a bad value stops here, before any resource is registered);
`components.lakehouse.deploy` declares everything; each endpoint becomes a stack output.
"""

import pulumi

from components.config import load_stack_config
from components.lakehouse import deploy

for key, value in deploy(load_stack_config()).items():
    pulumi.export(key, value)
