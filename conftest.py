"""Root pytest configuration: keeps the tests off the network and on their own databases."""
