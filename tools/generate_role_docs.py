#!/usr/bin/env python
"""Write the variable tables of every role README from its meta/argument_specs.yml.

The argument spec is the one source of a role's variables: Ansible validates
them against it at run time and `ansible-doc -t role` shows it. This tool
renders it into the role's README.md, between the BEGIN and END markers:

    python tools/generate_role_docs.py            # rewrite the stale READMEs
    python tools/generate_role_docs.py --check    # exit 1 naming each stale README

One section per entry point: `main` first, without a heading (the README's
own prose describes it), then every other entry point (a `tasks_from` file)
under its own heading, in the spec's order. Each section is a table of
variable, type, default and description; the suboptions of a dict or a list
of dicts follow their option as rows named by their path
(`prefect_server_instances[].database.host`).

Ansible markup becomes Markdown: C() V() O() I() E() P() code, B() bold,
L() and U() links, M() of a role of this collection a link to its README,
R() its text. I() names an option in these specs, so it is code like O().
Everything outside the markers stays as it was.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = "selfhosted.prefect"
SOURCE = "meta/argument_specs.yml"
MARK = f"generated from {SOURCE} by tools/generate_role_docs.py"
BEGIN = f"<!-- BEGIN {MARK} -->"
END = f"<!-- END {MARK} -->"
# Heading of the section appended to a README that has no markers yet.
APPENDED_HEADING = "## Variables"

# Commands of Ansible's documentation markup. Those of the newer set take
# backslash escapes in their parameter; the classic ones end at the first ")".
_ESCAPING = frozenset("OVEP")
_TWO_PARAMS = frozenset("LR")
_MARKUP = re.compile(r"\b([BCEILMOPRUV])\(|\bHORIZONTALLINE\b")


class MarkupError(ValueError):
    """A markup command without its closing parenthesis."""


def _parameter(text, start, escaping):
    """The parameter of a command whose "(" ends at start, and the index after its ")"."""
    if not escaping:
        end = text.find(")", start)
        if end < 0:
            raise MarkupError(f"no ')' closes the markup at {start} in: {text}")
        return text[start:end], end + 1
    out = []
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == ")":
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise MarkupError(f"no ')' closes the markup at {start} in: {text}")


def code(text):
    """A Markdown code span holding text literally."""
    text = text.replace("|", "\\|")
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def escape_text(text):
    """Plain text that Markdown shows as written, in a table cell too."""
    text = text.replace("\\", "\\\\").replace("`", "\\`").replace("*", "\\*").replace("|", "\\|")
    text = re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)
    return text.replace("<", "&lt;")


def _role_link(fqcn, roles):
    """A link to the README of one of this collection's roles, as seen from another role's README."""
    prefix = COLLECTION + "."
    if fqcn.startswith(prefix) and fqcn[len(prefix):] in roles:
        return f"[{code(fqcn)}](../{fqcn[len(prefix):]}/README.md)"
    return None


def markup_to_markdown(text, roles=()):
    """Ansible documentation markup in text, as Markdown. roles: role names of this collection."""
    out = []
    pos = 0
    for match in _MARKUP.finditer(text):
        if match.start() < pos:
            continue
        out.append(escape_text(text[pos:match.start()]))
        command = match.group(1)
        if command is None:  # HORIZONTALLINE
            pos = match.end()
            continue
        param, pos = _parameter(text, match.end(), command in _ESCAPING)
        if command in _TWO_PARAMS:
            label, target = (param.split(",", 1) + [""])[:2]
            label, target = label.strip(), target.strip()
            out.append(f"[{escape_text(label)}]({target})" if command == "L" else escape_text(label))
        elif command == "U":
            out.append(f"<{param}>")
        elif command == "B":
            out.append(f"**{escape_text(param)}**")
        elif command == "M":
            out.append(_role_link(param, roles) or code(param))
        elif command == "P":
            name, kind = (param.split("#", 1) + [""])[:2]
            out.append((kind == "role" and _role_link(name, roles)) or code(name))
        else:  # C I O V E
            out.append(code(param))
    out.append(escape_text(text[pos:]))
    return "".join(out)


def yaml_value(value):
    """value as YAML shows it on one line (flow style)."""
    if value == "":
        return '""'
    dumped = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, sort_keys=False, allow_unicode=True)
    dumped = dumped.strip()
    if dumped.endswith("\n..."):
        dumped = dumped[:-4].rstrip()
    elif dumped.endswith("..."):
        dumped = dumped[:-3].rstrip()
    return dumped


def render_type(spec):
    kind = spec.get("type", "str")
    if "elements" in spec:
        return f"{kind} of {spec['elements']}"
    return kind


def render_default(spec):
    """`required`, the default as YAML shows it, or `not set` when the spec gives neither."""
    if spec.get("required"):
        return "required"
    if "default" not in spec:
        return "not set"
    return code(yaml_value(spec["default"]))


def render_description(spec, roles=()):
    description = spec.get("description") or []
    if isinstance(description, str):
        description = [description]
    parts = [markup_to_markdown(" ".join(str(paragraph).split()), roles) for paragraph in description]
    if spec.get("choices"):
        noun = "Elements" if spec.get("type") == "list" else "One"
        parts.append(f"{noun} of " + ", ".join(code(yaml_value(choice)) for choice in spec["choices"]) + ".")
    if spec.get("aliases"):
        parts.append("Aliases: " + ", ".join(code(alias) for alias in spec["aliases"]) + ".")
    if spec.get("no_log"):
        parts.append("Secret: never logged (`no_log`).")
    return " ".join(parts)


def option_rows(options, prefix="", roles=()):
    """Table rows of options and, after each, its suboptions, in the spec's order."""
    rows = []
    for name, spec in (options or {}).items():
        spec = spec or {}
        path = f"{prefix}{name}"
        rows.append(f"| {code(path)} | {render_type(spec)} | {render_default(spec)} | {render_description(spec, roles)} |")
        if spec.get("options"):
            child = f"{path}[]." if spec.get("type") == "list" else f"{path}."
            rows.extend(option_rows(spec["options"], child, roles))
    return rows


def render_options(options, roles=()):
    if not options:
        return "No variables."
    header = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    return "\n".join(header + option_rows(options, roles=roles))


def render_entry_point(name, entry, roles=(), same_as_main=None):
    """The section of one entry point: the table alone for main, a heading and its text for the others.

    An entry point whose options are main's (same_as_main) refers to main's table instead of repeating it.
    """
    entry = entry or {}
    if same_as_main:
        table = "Its variables are those of the main entry point (above)."
    else:
        table = render_options(entry.get("options"), roles)
    if name == "main":
        return table
    lines = [f"### Entry point `{name}`", ""]
    text = [markup_to_markdown(" ".join(entry["short_description"].split()), roles)] if entry.get("short_description") else []
    description = entry.get("description") or []
    if isinstance(description, str):
        description = [description]
    text.extend(markup_to_markdown(" ".join(str(paragraph).split()), roles) for paragraph in description)
    for paragraph in text:
        lines += [paragraph, ""]
    lines += [f"Run it with `tasks_from: {name}`.", "", table]
    return "\n".join(lines)


def render_specs(specs, roles=()):
    """The generated block of one role from its parsed argument_specs.yml."""
    entries = (specs or {}).get("argument_specs") or {}
    names = sorted(entries, key=lambda entry: entry != "main")  # main first, then the spec's order
    return "\n\n".join(render_entry_point(name, entries[name], roles, _main_options(entries, name)) for name in names)


def _main_options(entries, name):
    """main's options, when the entry point name takes exactly those (a YAML alias of them, say)."""
    main = (entries.get("main") or {}).get("options")
    if name != "main" and main and (entries[name] or {}).get("options") == main:
        return main
    return None


def replace_block(readme, block):
    """readme with block between the markers; a README without them gets a section appended."""
    generated = f"{BEGIN}\n\n{block}\n\n{END}"
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 and end < 0:
        return readme.rstrip("\n") + f"\n\n{APPENDED_HEADING}\n\n{generated}\n"
    if start < 0 or end < start or readme.count(BEGIN) > 1 or readme.count(END) > 1:
        raise ValueError(f"the markers are broken: {BEGIN!r} must come once, before {END!r}")
    return readme[:start] + generated + readme[end + len(END):]


def role_dirs(root):
    """Roles under root/roles that have an argument spec, by name."""
    return sorted(path.parent.parent for path in (root / "roles").glob(f"*/{SOURCE}"))


def render_readme(role, roles):
    """The README of role (a directory) as the generator writes it."""
    specs = yaml.safe_load((role / SOURCE).read_text(encoding="utf-8"))
    readme = role / "README.md"
    current = readme.read_text(encoding="utf-8") if readme.exists() else f"# {COLLECTION}.{role.name}\n"
    return replace_block(current, render_specs(specs, roles))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a README is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the collection's checkout (default: this one)")
    parser.add_argument("roles", nargs="*", help="only these roles (default: every role with an argument spec)")
    args = parser.parse_args(argv)
    dirs = role_dirs(args.root)
    roles = [path.name for path in dirs]
    if args.roles:
        unknown = sorted(set(args.roles) - set(roles))
        if unknown:
            parser.error("no argument spec for role(s): " + ", ".join(unknown))
        dirs = [path for path in dirs if path.name in args.roles]
    stale, broken = [], []
    for role in dirs:
        readme = role / "README.md"
        try:
            wanted = render_readme(role, roles)
        except (yaml.YAMLError, MarkupError, ValueError, KeyError, TypeError) as error:
            broken.append(role)
            print(f"{role.relative_to(args.root)}: cannot render {SOURCE} into README.md: {error}", file=sys.stderr)
            continue
        if readme.exists() and readme.read_text(encoding="utf-8") == wanted:
            continue
        shown = readme.relative_to(args.root)
        if args.check:
            stale.append(shown)
            print(f"{shown} is stale: its variable tables differ from {SOURCE}; "
                  f"run python tools/generate_role_docs.py", file=sys.stderr)
        else:
            readme.write_text(wanted, encoding="utf-8")
            print(f"wrote {shown}")
    return 2 if broken else 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
