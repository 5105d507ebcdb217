"""The composition roots: the `gateway` command and `gateway dev`, the only package that
imports every other."""
