"""KumiAI: a local workbench for running a team of Claude agents on your projects."""

__version__ = "2.0.0"
