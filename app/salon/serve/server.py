"""uvicorn's server, stopped in the order a run's watchers need.

uvicorn stops by closing idle connections, waiting (``timeout_graceful_shutdown``) for the others, cancelling what
is left, and only then telling the app (lifespan shutdown). A watcher's stream lasts as long as its run, so it was
always what was left: cancelled mid-stream with a traceback on standard error, and the watcher never saw the run
end. Here, once asked to stop, the server stops listening, cancels every run and lets each keep its partial reply
and send its last events (``thread.message.incomplete``, ``thread.run.cancelled``); the streams then end as
streams do, and uvicorn's own shutdown finds nothing left to cancel.
"""

from __future__ import annotations

import socket

import uvicorn

from salon.serve.runs import RunRegistry


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runs: RunRegistry) -> None:
        super().__init__(config)
        self.runs = runs

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listening in getattr(self, "servers", ()):  # no new connections while the runs end
            listening.close()
        await self.runs.close()
        await super().shutdown(sockets)
