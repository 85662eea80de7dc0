"""Filesystem adapters: path confinement, atomic writes, front-matter documents and
the folder stores behind ``kumiai.application.ports.files``."""
