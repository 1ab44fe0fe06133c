"""The web tree (demo page, Node runner, npm packages) and the read-only HTTP server that serves it."""
