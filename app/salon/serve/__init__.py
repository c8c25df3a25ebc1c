"""``salon serve``: the event stream of Salon's runs over HTTP (Server-Sent Events), and a web page that shows it.

Imported only by ``salon serve``: its web stack (Starlette, uvicorn) never loads for the TUI, ``salon ask`` or the
Python API. ``command`` starts the server; ``app`` holds the routes; ``runs`` the live runs that any number of
clients may watch; ``sse`` the two framings; ``recording`` the one adapter onto the store; ``auth`` the token and the
host and origin checks; ``page.html`` the web page.
"""
