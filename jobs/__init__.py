"""Spark jobs. Orion's catalog is jobs/*.py (entry files); the code they run is the package jobs/logistics/,
shipped with them (--py-files). This file makes both importable by the tests and lakehouse/."""
