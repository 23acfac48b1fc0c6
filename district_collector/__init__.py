"""The Commune Radio district collector: verifies, stores and scores station evidence."""
