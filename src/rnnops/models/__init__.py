"""Models: the registry of bodies, custom layers, the raw-text wrapper, Keras file I/O."""
