"""The ``openleash`` command. One module per command group; each calls service functions."""
