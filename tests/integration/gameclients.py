"""Real game clients and servers for the integration tests, written by others:
the npm packages pinned in tests/npm (package.json and package-lock.json;
minecraft-protocol for a Minecraft server and client, gamedig for server
queries), run with Debian's node (/usr/bin/node; node 18 on Debian 12).

install() runs `npm ci` once per lock file into a cache outside the checkout
(/var/cache/proxygw-test/npm-<hash of the lock>/, readable by every user, as
the engine's backends run as uid 65533) and copies the scripts of js/ beside
its node_modules, where Node finds the packages for CommonJS and ES modules
alike. Later runs reuse it. Tests skip when node or npm is missing (make deps
installs them); an npm failure is an error, not a skip.
"""
import hashlib
import json
import os
import shutil
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
NPM_DIR = os.path.join(HERE, "..", "npm")
JS_DIR = os.path.join(HERE, "js")
CACHE = os.environ.get("PROXYGW_TEST_CACHE", "/var/cache/proxygw-test")


def node():
    if os.path.exists("/usr/bin/node"):
        return "/usr/bin/node"
    found = shutil.which("node")
    if not found:
        raise unittest.SkipTest("node is not installed (make deps installs nodejs)")
    return found


def install():
    """The folder holding node_modules and the test scripts (installed when
    needed)."""
    npm = shutil.which("npm", path="/usr/bin:" + os.environ.get("PATH", ""))
    if not npm:
        raise unittest.SkipTest("npm is not installed (make deps installs it)")
    files = ("package.json", "package-lock.json")
    h = hashlib.sha256()
    for f in files:
        with open(os.path.join(NPM_DIR, f), "rb") as fp:
            h.update(fp.read())
    dest = os.path.join(CACHE, "npm-" + h.hexdigest()[:16])
    if not os.path.exists(os.path.join(dest, ".installed")):
        os.makedirs(CACHE, mode=0o755, exist_ok=True)
        tmp = dest + ".tmp-%d" % os.getpid()
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp, mode=0o755)
        for f in files:
            shutil.copy(os.path.join(NPM_DIR, f), tmp)
        p = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                            "--cache", os.path.join(CACHE, "npm-cache")],
                           cwd=tmp, capture_output=True, text=True, timeout=1200)
        if p.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError("npm ci failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
        for root, dirs, names in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
        open(os.path.join(dest, ".installed"), "w").close()
    for name in os.listdir(JS_DIR):
        shutil.copy(os.path.join(JS_DIR, name), dest)
        os.chmod(os.path.join(dest, name), 0o644)
    return dest


def run_json_lines(args, timeout=90):
    """Runs a client; its stdout's JSON lines (non-JSON lines kept as text)."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    out = []
    for line in p.stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"text": line})
    return p.returncode, out, p.stderr
