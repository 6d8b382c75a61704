#!/usr/bin/env python3
"""Checks the Dockerfile without a Docker engine: the runtime stage's
apt-get install list must provide every shared library that the binaries it
ships load (ldd), each library mapped to its Debian package with dpkg -S.
A package counts as provided when the runtime stage installs it, when it is
a dependency (recursively) of one it installs, or when it is Essential or
Priority: required (always in debian:*-slim).

    test/deploy/check_dockerfile.py [Dockerfile] [binary...]

The build stage is checked the same way for what the compiler needs: every
pkg-config package in c_src/Makefile's PKGS must come from a package the
build stage installs (its .pc file mapped with dpkg -S).

Prints one line per library and exits 1 if any is not covered."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def runtime_packages(dockerfile):
    """Packages named by `apt-get install` in the last stage."""
    text = open(dockerfile).read().replace("\\\n", " ")
    stages = re.split(r"(?mi)^FROM\s", text)
    last = stages[-1]
    if not re.match(r"\S*debian:\S*-slim\b", last):
        sys.exit("check_dockerfile: the runtime stage is not based on a debian *-slim image")
    pkgs = set()
    for m in re.finditer(r"apt-get install ([^&;\n]*)", last):
        pkgs.update(t for t in m.group(1).split() if not t.startswith("-"))
    if not pkgs:
        sys.exit("check_dockerfile: no apt-get install in the runtime stage")
    return pkgs, last


def build_packages(dockerfile):
    """Packages named by `apt-get install` in the first stage."""
    text = open(dockerfile).read().replace("\\\n", " ")
    first = re.split(r"(?mi)^FROM\s", text)[1]
    pkgs = set()
    for m in re.finditer(r"apt-get install ([^&;\n]*)", first):
        pkgs.update(t for t in m.group(1).split() if not t.startswith("-"))
    return pkgs


def makefile_pkgs():
    text = open(os.path.join(ROOT, "c_src", "Makefile")).read()
    m = re.search(r"(?m)^PKGS\s*:=\s*(.*)$", text)
    return m.group(1).split() if m else []


def check_build_stage(dockerfile):
    listed = build_packages(dockerfile)
    covered = closure(listed)
    failures = 0
    for pc in makefile_pkgs():
        r = subprocess.run(["pkg-config", "--path", pc], capture_output=True, text=True)
        pkg = package_of(r.stdout.strip()) if r.returncode == 0 else None
        ok = pkg is not None and (pkg in covered)
        print("%s build: pkg-config %s (%s)" % ("ok  " if ok else "FAIL", pc,
                                               pkg + (" in the build stage" if ok else ", not in the build stage")
                                               if pkg else "no Debian package found"))
        failures += 0 if ok else 1
    return failures


def ldd_paths(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            paths.append(m.group(1))
    return paths


def package_of(path):
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/lib"):
            candidates.append("/usr" + p)
        elif p.startswith("/usr/lib"):
            candidates.append(p[len("/usr"):])
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def pkg_field(pkg, field):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${%s}" % field, pkg],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def closure(pkgs):
    """Installed packages reachable through Depends/Pre-Depends."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        deps = pkg_field(p, "Depends") + "," + pkg_field(p, "Pre-Depends")
        for alt in deps.split(","):
            for choice in alt.split("|"):
                name = choice.strip().split(" ")[0].split(":")[0]
                if name and pkg_field(name, "Status").endswith("installed"):
                    todo.append(name)
                    break
    return seen


def main():
    dockerfile = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Dockerfile")
    binaries = sys.argv[2:] or [os.path.join(ROOT, "priv", "clusterd")]
    listed, stage = runtime_packages(dockerfile)
    print("runtime stage installs: " + " ".join(sorted(listed)))
    for b in binaries:
        name = os.path.basename(b)
        if not re.search(r"COPY --from=\S+ [^\n]*\b%s\b" % re.escape(name), stage):
            print("FAIL %s is not copied into the runtime stage" % name)
            return 1
    covered = closure(listed)
    failures = 0
    for b in binaries:
        for path in ldd_paths(b):
            pkg = package_of(path)
            if pkg is None:
                print("FAIL %s: %s belongs to no Debian package" % (b, path))
                failures += 1
                continue
            why = ("listed" if pkg in listed else
                   "dependency of a listed package" if pkg in covered else
                   "essential" if pkg_field(pkg, "Essential") == "yes" else
                   "required" if pkg_field(pkg, "Priority") == "required" else None)
            print("%s %s: %s (%s)" % ("ok  " if why else "FAIL", os.path.basename(b), path,
                                       "%s, %s" % (pkg, why) if why else pkg + ", not installed"))
            if not why:
                failures += 1
    failures += check_build_stage(dockerfile)
    print("%d libraries not covered" % failures if failures else "every library is covered")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
