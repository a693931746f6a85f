"""Errors raised by the code generator."""


class CodegenError(Exception):
    """A model (or an op or option in it) that codegen cannot turn into C. One line, names op and model."""
