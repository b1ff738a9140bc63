"""The lakehouse's Pulumi components: one ComponentResource per module, wired by `components.lakehouse`; each
receives plain values or Outputs through a frozen `<Type>Args` dataclass (`components.config` reads the config).
"""
