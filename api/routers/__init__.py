"""HTTP and WebSocket routers (thin: parse, authorize, delegate to services)."""
