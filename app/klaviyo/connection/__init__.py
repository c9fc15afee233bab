"""The connection lifecycle: connect (probe + persist the key), disconnect, status."""
