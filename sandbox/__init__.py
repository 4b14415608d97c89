"""A local stand-in for the Domino services the toolkit touches: a real HTTP server on 127.0.0.1."""
