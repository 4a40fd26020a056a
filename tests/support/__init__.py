"""Test support: real registry processes, clients, certificates, images, databases."""
