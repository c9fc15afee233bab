"""Writers of the reference store (`core`): used by tests, the demo generator and loaders."""
