"""Pure rules: validation, normalisation, CSV safety, feature policy."""
