"""placeholder (filled in below)"""

# The settings table imports every package's ``_settings`` (including
# ``oracle.service``, which imports ``oracle._errors``): loading it first keeps
# ``import oracle._errors`` from entering that cycle half-way.
import spamledger  # noqa: F401  isort: skip
