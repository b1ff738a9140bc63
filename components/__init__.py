"""The lakehouse's Pulumi components: one ComponentResource per module, wired by `components.lakehouse`.

`components.config` is the only module that reads Pulumi config; every component receives plain values
(from the validated `lakehouse.settings.Settings`) or Outputs through a frozen `<Type>Args` dataclass.
"""
