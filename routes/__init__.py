"""HTTP routes and Socket.IO handlers: parse, call the repository, respond."""
