"""HTTP and websocket transport of livecast: what reaches the schema and the routes, and in what shape."""
