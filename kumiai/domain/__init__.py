"""The domain layer: entities, value objects and rules in pure Python (no I/O).

Import from :mod:`kumiai.domain.entities` and :mod:`kumiai.domain.value_objects`.
"""
