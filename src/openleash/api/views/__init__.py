"""The JSON bodies of the routes, built from the typed results of the use cases."""
