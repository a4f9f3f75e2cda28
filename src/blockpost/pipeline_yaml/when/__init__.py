"""The `when` condition language: lexer, parser (syntax errors with positions) and evaluator."""

from blockpost.pipeline_yaml.when.evaluator import WhenContext, evaluate
from blockpost.pipeline_yaml.when.lexer import WhenError
from blockpost.pipeline_yaml.when.parser import parse

__all__ = ["WhenContext", "WhenError", "evaluate", "parse"]
