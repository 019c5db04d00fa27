#!/usr/bin/python3
"""Holds the config schema and the C++ loader to the same verdict.

For every config in tests/configs/ and configs/, runs `proxygw-engine
--check-config` (the real loader) and validates the file against
configs/proxygw.schema.yaml with python3-jsonschema. Each corpus file declares
what to expect in its leading comments:

    # expect: valid              both accept
    # expect: invalid            both reject (a structural rule the schema expresses)
    # expect: invalid-semantic   the schema accepts, the loader rejects (a rule
                                 no schema can express: references, duplicates...)
    # error: LINE:COL: PATH: MESSAGE
                                 every error the loader must print, exactly; the
                                 loader must print no other

Files in configs/ are examples and must be valid. Exit status 0 when all agree.
"""
import argparse
import pathlib
import subprocess
import sys

import jsonschema
import yaml


def schema_verdict(validator, path):
    try:
        with open(path, "rb") as f:
            doc = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as e:
        return False, "not YAML: %s" % str(e).splitlines()[0]
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        return False, "%s: %s" % ("/".join(str(p) for p in e.path), e.message[:200])
    return True, ""


def loader_verdict(engine, path):
    p = subprocess.run([engine, "--check-config", str(path)], capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    prefix = str(path) + ":"
    lines = [l[len(prefix):].lstrip() for l in err.splitlines() if l.startswith(prefix)]
    if p.returncode == 0 and out.strip() == "ok":
        return True, lines, err
    if p.returncode == 1:
        return False, lines, err
    return None, lines, "exit %d: %s%s" % (p.returncode, out, err)


def expectations(path):
    expect, errors = None, []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("# expect:"):
                expect = line.split(":", 1)[1].strip()
            elif line.startswith("# error:"):
                errors.append(line.split(":", 1)[1].strip())
            elif not line.startswith("#"):
                break
    return expect, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--source", required=True, help="the source tree")
    args = ap.parse_args()
    src = pathlib.Path(args.source)
    with open(src / "configs/proxygw.schema.yaml") as f:
        schema = yaml.safe_load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    corpus = sorted((src / "tests/configs").glob("*.yaml"))
    examples = sorted((src / "configs").glob("*.yaml"))
    examples = [p for p in examples if not p.name.endswith(".schema.yaml")]
    failures, checked = [], 0
    for path in corpus + examples:
        if path in examples:
            expect, want_errors = "valid", []
        else:
            expect, want_errors = expectations(path)
        name = str(path.relative_to(src))
        if expect not in ("valid", "invalid", "invalid-semantic"):
            failures.append("%s: no '# expect:' line" % name)
            continue
        s_ok, s_why = schema_verdict(validator, path)
        l_ok, l_lines, l_out = loader_verdict(args.engine, path)
        checked += 1
        if l_ok is None:
            failures.append("%s: loader failed: %s" % (name, l_out))
            continue
        want_schema = expect == "valid" or expect == "invalid-semantic"
        want_loader = expect == "valid"
        if s_ok != want_schema:
            failures.append("%s: schema says %s, expected %s (%s)" % (
                name, "valid" if s_ok else "invalid", "valid" if want_schema else "invalid", s_why))
        if l_ok != want_loader:
            failures.append("%s: loader says %s, expected %s:\n%s" % (
                name, "valid" if l_ok else "invalid", "valid" if want_loader else "invalid", l_out))
        if not want_loader:
            if not want_errors:
                failures.append("%s: an invalid config must list its '# error:' lines" % name)
            elif l_lines != want_errors:
                failures.append("%s: loader errors differ\n  expected:\n    %s\n  got:\n    %s" % (
                    name, "\n    ".join(want_errors), "\n    ".join(l_lines)))
    if checked < 10:
        failures.append("only %d configs checked; the corpus is missing" % checked)
    for f in failures:
        print("FAIL", f)
    print("%d configs checked, %d failures" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
