"""The HTTP side: the book operation, the control plane's doors, errors as responses."""
