#!/usr/bin/python3
"""Generates proxygw-engine's plugin registration table from plugin.yaml.

  generate_registry.py PLUGIN_YAML OUTPUT_CC   writes the table (C++)
  generate_registry.py --list PLUGIN_YAML      prints the sources, ';'-separated

plugin.yaml is a mapping `plugins:` of `<source>: <namespace>`, in load order.
Errors name the file and the entry, and the exit status is 1.
"""
import re
import sys

import yaml

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
SOURCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def fail(path, msg):
    sys.stderr.write("%s: %s\n" % (path, msg))
    sys.exit(1)


def read(path):
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(path, "cannot read: %s" % e)
    if not isinstance(doc, dict):
        fail(path, "root must be a mapping with key 'plugins'")
    plugins = doc.get("plugins")
    if not isinstance(plugins, dict) or not plugins:
        fail(path, "'plugins' must be a non-empty mapping of <source>: <namespace>")
    seen = set()
    out = []
    for source, ns in plugins.items():
        if not isinstance(source, str) or not SOURCE.match(source):
            fail(path, "plugin source %r: expected a C identifier (the folder name)" % (source,))
        if not isinstance(ns, str) or not NAME.match(ns):
            fail(path, "plugin %s: namespace %r is not a valid name" % (source, ns))
        if ns in seen:
            fail(path, "plugin %s: namespace %r is used twice" % (source, ns))
        seen.add(ns)
        out.append((source, ns))
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--list":
        print(";".join(s for s, _ in read(sys.argv[2])), end="")
        return
    if len(sys.argv) != 3:
        fail("generate_registry.py", "usage: generate_registry.py PLUGIN_YAML OUTPUT_CC")
    plugins = read(sys.argv[1])
    lines = ["// Generated from %s by plugins/generate_registry.py. Do not edit." % sys.argv[1],
             '#include "proxygw-engine/plugin_api.h"', ""]
    for source, _ in plugins:
        lines.append("extern const engine::PluginDef proxygw_plugin_%s;" % source)
    lines += ["", "namespace engine {", "", "const PluginEntry kPlugins[] = {"]
    for source, ns in plugins:
        lines.append('    {&proxygw_plugin_%s, "%s"},' % (source, ns))
    lines += ["};", "const std::size_t kPluginCount = %d;" % len(plugins), "",
              "}  // namespace engine", ""]
    text = "\n".join(lines)
    try:
        with open(sys.argv[2]) as f:
            if f.read() == text:
                return  # unchanged: keep the timestamp
    except OSError:
        pass
    with open(sys.argv[2], "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
