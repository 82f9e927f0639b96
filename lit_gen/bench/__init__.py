"""The benchmark harness behind ``lit-gen bench``."""
