"""The import path agent programs are told to write (``from salon.agent_env import Environment``): public, so kept
here at the root; the environment itself lives in :mod:`salon.agents.environment`."""

from salon.agents.environment import Environment, RunStopped

__all__ = ["Environment", "RunStopped"]
