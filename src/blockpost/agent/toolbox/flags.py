"""Command-line flags read as the Go tools' (cobra/pflag) read them: anywhere among the
arguments, `--name value`, `--name=value`, `-n value`, `-nvalue`, `-abc` for booleans."""

from __future__ import annotations

from typing import Dict

Values = Dict[str, object]


class UsageError(Exception):
    """Bad command line; the message is cobra's."""


class Flag:
    def __init__(self, name: str, short: str = "", boolean: bool = False) -> None:
        self.name = name
        self.short = short
        self.boolean = boolean


def parse(arguments: list[str], flags: list[Flag]) -> tuple[list[str], Values]:
    """(positional arguments, {flag name: value}); booleans default to False, others ''."""
    by_name = {flag.name: flag for flag in flags}
    by_short = {flag.short: flag for flag in flags if flag.short}
    values: Values = {flag.name: False if flag.boolean else "" for flag in flags}
    positional: list[str] = []
    rest = list(arguments)
    while rest:
        item = rest.pop(0)
        if item == "--":
            positional += rest
            break
        if item.startswith("--") and len(item) > 2:
            name, has_value, value = item[2:].partition("=")
            flag = by_name.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            values[name] = _value(flag, f"--{name}", has_value, value, rest)
        elif item.startswith("-") and len(item) > 1:
            letters = item[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                flag = by_short.get(letter)
                if flag is None:
                    raise UsageError(f"unknown shorthand flag: '{letter}' in {item}")
                if flag.boolean:
                    has_value = letters.startswith("=")
                    values[flag.name] = _value(flag, f"-{letter}", has_value, letters[1:], rest)
                    if has_value:
                        letters = ""
                    continue
                inline = letters[1:] if letters.startswith("=") else letters
                values[flag.name] = _value(flag, f"-{letter}", bool(letters), inline, rest)
                letters = ""
        else:
            positional.append(item)
    return positional, values


def _value(flag: Flag, spelled: str, has_value: bool, value: str, rest: list[str]) -> object:
    if flag.boolean:
        if not has_value:
            return True
        if value.lower() in ("1", "t", "true"):
            return True
        if value.lower() in ("0", "f", "false"):
            return False
        raise UsageError(
            f'invalid argument "{value}" for "{spelled}" flag: strconv.ParseBool: parsing '
            f'"{value}": invalid syntax'
        )
    if has_value:
        return value
    if not rest:
        raise UsageError(f"flag needs an argument: {spelled}")
    return rest.pop(0)
