"""The SQL repositories.

Importing them maps the entities first, so that a repository can build its most used
statements once, at import: composing a ``select`` costs more than SQLAlchemy's run of
an already compiled one (bench/http.py).
"""

from kumiai.infrastructure.database.mapping import map_entities

map_entities()
