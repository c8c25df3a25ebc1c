"""Tools through the Model Context Protocol: servers from the user's config, approval, and the calls of a run.

Importing this package imports nothing of the ``mcp`` SDK; :mod:`salon.tools.mcp_client` loads it when a tool-using
agent first runs.
"""
