"""Feed formats, one module each; every parser yields IndicatorRecord values."""
