"""The faces of `trapline serve`: the TCP event service, the output and its templates."""
