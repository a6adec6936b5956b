"""The Socket.IO side: the server, connect auth, rooms, event handlers and emit helpers."""
