"""A session's history as the Messages API takes it: :mod:`.replay` turns stored rows
into API messages, :mod:`.budget` fits them to a token budget, and :mod:`.window` reads
only the newest rows a turn needs."""
