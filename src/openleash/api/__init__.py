"""HTTP: the ASGI application. Routes parse input, call one service function, render."""
