#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every external command the project's scripts run is declared once in
packaging/deps.tsv (command, Debian package, make goals that use it), and
`make deps` installs every declared package.

Checks, each of which fails the run:
  scan      the shell scripts under tests/, vmtest/, packaging/container/,
            .ci/ and the Makefile's recipes are parsed (quotes, $(...),
            pipelines, heredocs, case arms, wrappers such as timeout, env,
            nsenter, `bash -c`, `vpnctl run --` and the test helpers); every
            command word that is not a shell builtin, keyword or function, nor
            a project binary or script, must have a row; a row whose command
            nothing runs is stale; the used-by column must name exactly the
            goals whose scripts run the command;
  deps      every declared package is in `make -s print-deps` and in the
            package list of `make -n deps`;
  owner     on this machine each declared command is found in PATH and its
            file (or a link on the way to it) belongs to the declared
            package (dpkg -S), so a wrong mapping fails; package-only rows
            (command "-") must be installed.

Usage: tests/check_deps.py [--list]   (--list: every command found, where)
"""
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
TSV = "packaging/deps.tsv"
GOALS = ("build", "deps", "demo", "check", "bench", "vmtest", "container",
         "install", "clean")

# Not scanned, with the reason.
EXCLUDE = {
    # /init of the initramfs: runs busybox applets only (busybox-static).
    "vmtest/init.sh",
}
SCAN_DIRS = ("tests", "vmtest", "packaging/container", ".ci")
SKIP_DIRS = ("tests/fuzz/corpus", "tests/data")

# Built or shipped by the project: never a package's.
PROJECT_CMDS = {"authsrv", "vpnd", "vpnctl", "dp_pair", "authsrv_load"}

# Project shell functions that run their arguments as a command:
# name -> (positional arguments before the command, runs it by exec).
WRAPPER_FUNCS = {
    "in_ns": (1, True), "bg_start": (1, False), "wait_for": (2, False),
    "in_cg": (2, True), "cbg": (1, False), "run_on": (1, True),
    "ina": (0, True), "inb": (0, True), "inA": (0, True), "inB": (0, True),
    "run": (0, False), "expect": (3, False), "expect_usage": (2, False),
    "expect_help": (0, False), "json_err": (1, False),
    "pg_as": (0, False),
}
# $(name ...) that expands to a command prefix (nsx h1 -> nsenter --net=..).
SUBST_WRAPPERS = {"nsx"}
# External commands that run a command given after their options:
# name -> (options taking a value, positional arguments before it).
WRAPPER_CMDS = {
    "timeout": ({"-k", "-s", "--kill-after", "--signal"}, 1),
    "env": ({"-u", "-C", "--unset", "--chdir"}, 0),
    "nsenter": ({"-t", "--target", "-S", "--setuid", "-G", "--setgid"}, 0),
    "unshare": (set(), 0),
    "setpriv": ({"--reuid", "--regid", "--ruid", "--rgid", "--euid",
                 "--egid", "--groups", "--inh-caps", "--ambient-caps",
                 "--bounding-set", "--securebits", "--pdeathsig"}, 0),
    "nice": ({"-n"}, 0), "nohup": (set(), 0), "setsid": (set(), 0),
    "stdbuf": ({"-i", "-o", "-e"}, 0), "flock": ({"-w", "-E"}, 1),
    "xargs": ({"-I", "-n", "-P", "-d", "-L", "-a", "-E", "-s"}, 0),
    "chrt": (set(), 1), "taskset": (set(), 1), "ionice": ({"-c", "-n"}, 0),
}
KEYWORDS_PREFIX = {"if", "then", "else", "elif", "fi", "do", "done", "while",
                   "until", "!", "{", "}", "time", "esac"}
KEYWORDS_SKIP = {"for", "select", "case", "function", "[[", "]]", "in"}
ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\[[^]]*\])?\+?=")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
VAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*|[0-9@*#?$!-])")
# Commands named in Python and C sources (tests/bench/report.py runs
# gnuplot, python -c snippets run bpftool, ...).
OTHER_LANG = [
    re.compile(r"subprocess\.\w+\(\s*\[\s*[\"']([\w.+-]+)[\"']"),
    re.compile(r"shutil\.which\(\s*[\"']([\w.+-]+)[\"']"),
    re.compile(r"os\.system\(\s*[\"']([A-Za-z][\w.+-]*)"),
    re.compile(r"\b(?:system|popen)\s*\(\s*\"([A-Za-z][\w.+-]*)"),
    re.compile(r"\bexecl?p\s*\(\s*\"([A-Za-z][\w.+-]*)\""),
]


def bash_words(flag):
    out = subprocess.run(["bash", "-c", "compgen -" + flag], check=True,
                         capture_output=True, text=True).stdout
    return set(out.split())


BUILTINS = bash_words("b") | {"[", "]"}
KEYWORDS = bash_words("k")
# Builtins that also exist as programs (what `exec`, nsenter... run).
EXEC_BUILTINS = {"echo", "true", "false", "kill", "test", "[", "printf",
                 "pwd"}


class Word:
    __slots__ = ("raw", "lit", "subst", "line")

    def __init__(self, raw, lit, subst, line):
        self.raw = raw        # quotes removed, expansions kept as written
        self.lit = lit        # the text if it has no expansion, else None
        self.subst = subst    # inner text if the word is just $(...)
        self.line = line


class Shell:
    """A small shell lexer/parser: enough to find command words."""

    OPS = ["&&", "||", ";;&", ";;", ";&", "|&", "&>>", "&>", ">>", "<<<",
           "<<-", "<<", "<>", ">&", "<&", ">|", ";", "&", "|", "(", ")",
           "<", ">"]
    REDIRS = {"&>>", "&>", ">>", "<<<", "<>", ">&", "<&", ">|", "<", ">"}

    def __init__(self, scanner, path):
        self.sc = scanner
        self.path = path

    # ---- lexer: returns (tokens, end index); token = Word or (op, line)
    def lex(self, s, i, line, stop):
        toks = []
        heredocs = []
        depth = 0
        n = len(s)
        while i < n:
            c = s[i]
            if c in " \t":
                i += 1
                continue
            if c == "\\" and s.startswith("\\\n", i):
                i += 2
                line += 1
                continue
            if c == "\n":
                toks.append(("\n", line))
                i += 1
                line += 1
                for delim, strip in heredocs:
                    while i < n:
                        j = s.find("\n", i)
                        j = n if j < 0 else j
                        body = s[i:j]
                        i = j + 1
                        line += 1
                        if (body.lstrip("\t") if strip else body) == delim:
                            break
                heredocs = []
                continue
            if c == "#":
                j = s.find("\n", i)
                i = n if j < 0 else j
                continue
            if stop == "`" and c == "`":
                return toks, i + 1, line
            if c in "<>" and s.startswith("(", i + 1):
                w, i, line = self.word(s, i, line, stop)
                toks.append(w)
                continue
            if c == "(" and s.startswith("((", i):
                j = self.match_paren(s, i)
                toks.append(Word(s[i:j], None, None, line))
                line += s.count("\n", i, j)
                i = j
                continue
            op = next((o for o in self.OPS if s.startswith(o, i)), None)
            if op:
                if op == "(":
                    depth += 1
                elif op == ")":
                    if depth == 0 and stop == ")":
                        return toks, i + 1, line
                    depth -= 1
                i += len(op)
                if op in ("<<", "<<-"):
                    while i < n and s[i] in " \t":
                        i += 1
                    w, i, line = self.word(s, i, line, stop)
                    heredocs.append((w.raw, op == "<<-"))
                    continue
                toks.append((op, line))
                continue
            w, i, line = self.word(s, i, line, stop)
            # "2>&1": the digits are a file descriptor, not a word
            if w.lit is not None and w.lit.isdigit() and i < n and s[i] in "<>":
                continue
            toks.append(w)
        return toks, i, line

    @staticmethod
    def match_paren(s, i):
        depth = 0
        for j in range(i, len(s)):
            if s[j] == "(":
                depth += 1
            elif s[j] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
        return len(s)

    def sub(self, s, i, line, stop):
        """Parse a nested command list; returns (end, line, inner text)."""
        toks, j, line2 = self.lex(s, i, line, stop)
        self.parse(toks)
        end = j - 1 if j > i else j
        return j, line2, s[i:end]

    def dollar(self, s, i, line, buf, stop):
        n = len(s)
        if s.startswith("$((", i):
            j = self.match_paren(s, i + 1)
            buf.append(s[i:j])
            return j, line + s.count("\n", i, j), None
        if s.startswith("$(", i):
            j, line, inner = self.sub(s, i + 2, line, ")")
            buf.append("$(" + inner + ")")
            return j, line, inner
        if s.startswith("${", i):
            depth, j = 0, i + 1
            while j < n:
                if s[j] == "{":
                    depth += 1
                elif s[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            buf.append(s[i:j + 1])
            return j + 1, line, None
        if s.startswith("$'", i):
            j = s.find("'", i + 2)
            j = n if j < 0 else j
            buf.append(s[i:j + 1])
            return j + 1, line, None
        m = VAR.match(s, i)
        if m:
            buf.append(m.group(0))
            return m.end(), line, None
        buf.append("$")
        return i + 1, line, None

    def word(self, s, i, line, stop):
        buf, lit, subst, n, start = [], True, None, len(s), line
        parts = 0
        if s[i] in "<>" and s.startswith("(", i + 1):
            j, line, inner = self.sub(s, i + 2, line, ")")
            return Word(s[i:j], None, None, start), j, line
        while i < n:
            c = s[i]
            if c in " \t\n;&|()<>":
                break
            if c == "`" and stop == "`":
                break
            parts += 1
            if c == "\\":
                if s.startswith("\\\n", i):
                    line += 1
                else:
                    buf.append(s[i + 1:i + 2])
                i += 2
            elif c == "'":
                j = s.find("'", i + 1)
                j = n if j < 0 else j
                buf.append(s[i + 1:j])
                line += s.count("\n", i, j)
                i = j + 1
            elif c == '"':
                i += 1
                while i < n and s[i] != '"':
                    if s[i] == "\\" and i + 1 < n:
                        if s[i + 1] == "\n":
                            line += 1
                        elif s[i + 1] in '$`"\\':
                            buf.append(s[i + 1])
                        else:
                            buf.append(s[i:i + 2])
                        i += 2
                    elif s[i] == "$":
                        i, line, _ = self.dollar(s, i, line, buf, stop)
                        lit = False
                    elif s[i] == "`":
                        i, line, _ = self.sub(s, i + 1, line, "`")
                        lit = False
                    else:
                        if s[i] == "\n":
                            line += 1
                        buf.append(s[i])
                        i += 1
                i += 1
            elif c == "$":
                i, line, inner = self.dollar(s, i, line, buf, stop)
                lit = False
                subst = inner if parts == 1 else None
            elif c == "`":
                i, line, inner = self.sub(s, i + 1, line, "`")
                lit = False
            else:
                buf.append(c)
                i += 1
            if parts > 1 and c != "$":
                subst = None
        text = "".join(buf)
        return Word(text, text if lit else None, subst, start), i, line

    # ---- parser: splits tokens into simple commands
    def parse(self, toks):
        cmd, case_depth, pattern, skip_next, dbl = [], 0, False, False, False
        k = 0
        while k < len(toks):
            t = toks[k]
            k += 1
            if isinstance(t, tuple):
                op = t[0]
                if pattern:
                    if op == ")":
                        pattern = False
                    continue
                if dbl:
                    continue
                if op in self.REDIRS:
                    skip_next = True
                    continue
                if op == "(" and cmd and cmd[-1].raw.endswith("="):
                    # an array: name=(words...)
                    while k < len(toks) and not (isinstance(toks[k], tuple)
                                                 and toks[k][0] == ")"):
                        k += 1
                    k += 1
                    continue
                if (op == "(" and len(cmd) == 1 and k < len(toks)
                        and isinstance(toks[k], tuple) and toks[k][0] == ")"):
                    self.sc.functions.add(cmd[0].raw)
                    cmd = []
                    k += 1
                    continue
                self.command(cmd)
                cmd = []
                if op in (";;", ";&", ";;&") and case_depth:
                    pattern = True
                continue
            if skip_next:
                skip_next = False
                continue
            if pattern:
                if t.lit == "esac":
                    case_depth -= 1
                    pattern = False
                continue
            if dbl:
                if t.lit == "]]":
                    dbl = False
                continue
            if not cmd and t.lit == "esac":
                case_depth -= 1
                continue
            if t.lit == "[[" and all(w.lit in KEYWORDS_PREFIX for w in cmd):
                dbl = True
                continue
            cmd.append(t)
            if cmd[0].lit == "case" and t.lit == "in" and len(cmd) >= 3:
                case_depth += 1
                pattern = True
                cmd = []
            elif cmd[0].lit == "function" and len(cmd) == 2:
                self.sc.functions.add(t.raw)
                cmd = []
        self.command(cmd)

    def command(self, ws, exec_=False):
        i = 0
        while i < len(ws) and (ws[i].lit in KEYWORDS_PREFIX
                               or ASSIGN.match(ws[i].raw)):
            i += 1
        ws = ws[i:]
        if not ws:
            return
        w0 = ws[0]
        line = w0.line
        if w0.lit is None:
            if w0.subst and w0.subst.split()[:1] and \
                    w0.subst.split()[0] in SUBST_WRAPPERS:
                self.command(ws[1:], True)
            elif w0.raw.endswith("vpnctl"):
                self.vpnctl_run(ws)
            elif w0.raw in ('$@', '${@:2}') or w0.raw.startswith("${@"):
                self.sc.runs_args.append((self.path, line))
            return
        name = w0.lit
        if name in KEYWORDS_SKIP or name.startswith("(("):
            return
        if "/" in name:
            if not name.startswith("/"):
                return      # a script or binary of the repository
            name = os.path.basename(name)
        if name in WRAPPER_FUNCS and name in self.sc.functions:
            skip, ex = WRAPPER_FUNCS[name]
            self.command(ws[1 + skip:], ex or exec_)
            return
        if name == "vpnctl_on":
            self.vpnctl_run(ws)
            return
        if name == "need_cmd":
            for w in ws[1:]:
                if w.lit:
                    self.sc.record(w.lit, self.path, w.line)
                    self.sc.needs[self.path].add(w.lit)
            return
        if name in self.sc.functions or name in PROJECT_CMDS:
            return
        if name in KEYWORDS:
            return
        if name in BUILTINS and not (exec_ and name in EXEC_BUILTINS):
            self.builtin(name, ws)
            return
        if not NAME.match(name):
            return
        self.sc.record(name, self.path, line)
        self.wrapped(name, ws)

    def builtin(self, name, ws):
        if name == "exec":
            i = 1
            while i < len(ws) and ws[i].raw.startswith("-"):
                i += 2 if ws[i].raw == "-a" else 1
            self.command(ws[i:], True)
        elif name == "command":
            if len(ws) > 1 and ws[1].raw in ("-v", "-V"):
                for w in ws[2:]:
                    if w.lit and NAME.match(w.lit):
                        self.sc.record(w.lit, self.path, w.line)
            else:
                self.command(ws[1:], True)
        elif name == "trap" and len(ws) > 1:
            self.text(ws[1].raw, ws[1].line)

    def wrapped(self, name, ws):
        if name in ("bash", "sh", "dash") or (
                name == "busybox" and len(ws) > 1 and ws[1].lit == "sh"):
            for j, w in enumerate(ws):
                if w.raw == "-c" and j + 1 < len(ws):
                    script = ws[j + 1].raw
                    self.text(script, ws[j + 1].line)
                    # bash -c '... exec "$@"' arg0 cmd...
                    if '"$@"' in script or "$@" in script:
                        self.command(ws[j + 3:], True)
                    break
        elif name == "ip" and [w.lit for w in ws[1:3]] == ["netns", "exec"]:
            self.command(ws[4:], True)
        elif name == "find":
            for j, w in enumerate(ws):
                if w.lit in ("-exec", "-execdir", "-ok", "-okdir"):
                    self.command(ws[j + 1:], True)
        elif name in WRAPPER_CMDS:
            opts, positional = WRAPPER_CMDS[name]
            i = 1
            while i < len(ws):
                v = ws[i].raw
                if v == "--":
                    i += 1
                    break
                if v.startswith("-") and len(v) > 1:
                    i += 2 if v in opts else 1
                    continue
                if name == "env" and ASSIGN.match(v):
                    i += 1
                    continue
                break
            self.command(ws[i + positional:], True)

    def vpnctl_run(self, ws):
        lits = [w.lit for w in ws]
        if "run" in lits and "--" in lits[lits.index("run"):]:
            self.command(ws[lits.index("--", lits.index("run")) + 1:], True)

    def text(self, s, line=1):
        toks, _, _ = self.lex(s, 0, line, None)
        self.parse(toks)


class Scanner:
    def __init__(self):
        self.uses = defaultdict(set)      # command -> {(path, line)}
        self.functions = set()
        self.runs_args = []               # (path, line) of "$@" as a command
        self.func_spans = {}              # path -> [(start, end, name)]
        self.needs = defaultdict(set)     # path -> commands in need_cmd
        self.sources = defaultdict(set)   # path -> tests/lib files it sources

    def record(self, name, path, line):
        self.uses[name].add((path, line))

    def files(self):
        out = []
        for d in SCAN_DIRS:
            for base, dirs, names in os.walk(os.path.join(ROOT, d)):
                rel = os.path.relpath(base, ROOT)
                dirs[:] = sorted(x for x in dirs if
                                 os.path.join(rel, x) not in SKIP_DIRS)
                for f in sorted(names):
                    p = os.path.join(rel, f)
                    if p not in EXCLUDE:
                        out.append(p)
        return out

    @staticmethod
    def is_shell(path, text):
        first = text.split("\n", 1)[0]
        return path.endswith(".sh") or (first.startswith("#!") and
                                        re.search(r"\b(ba)?sh\b", first))

    def function_spans(self, path, text):
        spans, lines = [], text.split("\n")
        for n, l in enumerate(lines, 1):
            m = re.match(r"^(\s*)([A-Za-z_][\w-]*)\(\)\s*\{(.*)$", l)
            if not m:
                continue
            end = n
            if not m.group(3).rstrip().endswith("}"):
                for k in range(n, len(lines)):
                    if re.match("^" + m.group(1) + r"\}", lines[k]):
                        end = k + 1
                        break
            spans.append((n, end, m.group(2)))
        self.func_spans[path] = spans

    def scan(self):
        texts = {}
        for p in self.files():
            try:
                with open(os.path.join(ROOT, p), encoding="utf-8") as f:
                    texts[p] = f.read()
            except (UnicodeDecodeError, IsADirectoryError):
                continue
        texts["Makefile"] = open(os.path.join(ROOT, "Makefile")).read()
        # Functions first: a test calls the helpers of tests/lib.
        for p, t in texts.items():
            for m in re.finditer(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)"
                                 r"\s*\(\)", t, re.M):
                self.functions.add(m.group(1))
        self.goal_of = self.goals(texts)
        for p, t in sorted(texts.items()):
            for rx in OTHER_LANG:
                for m in rx.finditer(t):
                    self.record(m.group(1), p, t.count("\n", 0, m.start()) + 1)
            # The interpreter line: #!/usr/bin/env bash runs env and bash.
            m = re.match(r"#!\s*(\S+)(?:\s+(\S+))?", t)
            if m:
                self.record(os.path.basename(m.group(1)), p, 1)
                if m.group(2) and os.path.basename(m.group(1)) == "env":
                    self.record(m.group(2), p, 1)
            if p == "Makefile":
                self.makefile(t)
            elif self.is_shell(p, t):
                self.function_spans(p, t)
                Shell(self, p).text(t)

    def goals(self, texts):
        """make goal(s) whose own scripts are in each file."""
        g = {}
        for p in texts:
            if p == "tests/demo.sh":
                g[p] = {"demo"}
            elif p.startswith("tests/bench/"):
                g[p] = {"bench"}
            elif p.startswith("tests/lib/"):
                g[p] = set()
            elif p.startswith(("tests/", ".ci/")):
                g[p] = {"check"}
            elif p.startswith("vmtest/"):
                g[p] = {"vmtest"}
            elif p.startswith("packaging/container/"):
                g[p] = {"container"}
            else:
                g[p] = set()
        # tests/lib files count for the goals of whoever sources them.
        changed = True
        while changed:
            changed = False
            for p, t in texts.items():
                for m in re.finditer(r"^\s*(?:\.|source)\s+[^\n]*?(lib/[\w.-]+)",
                                     t, re.M):
                    lib = "tests/" + m.group(1)
                    self.sources[p].add(lib)
                    if lib in g and not g[p] <= g[lib]:
                        g[lib] |= g[p]
                        changed = True
        return g

    MAKE_GOAL = {"deps": "deps", "print-deps": "deps", "check": "check",
                 "unit": "check", "demo": "demo", "bench": "bench",
                 "bench-authsrv": "bench", "$(B)/bench/authsrv_load": "bench",
                 "vmtest": "vmtest", "container": "container",
                 "install": "install", "clean": "clean"}

    def makefile(self, text):
        cmdvars = {"MAKE": "make"}
        for m in re.finditer(r"^(\w+)\s*[?:]?=\s*([\w./-]+)\s*$", text, re.M):
            cmdvars.setdefault(m.group(1), m.group(2))

        def expand(s):
            out, i = [], 0
            while i < len(s):
                if s.startswith("$$", i):
                    out.append("$")
                    i += 2
                elif s.startswith("$(", i) or s.startswith("${", i):
                    j = Shell.match_paren(s.replace("{", "(").replace(
                        "}", ")"), i + 1)
                    inner = s[i + 2:j - 1]
                    if inner.startswith("shell "):
                        out.append("$(" + expand(inner[6:]) + ")")
                    elif inner in cmdvars:
                        out.append(cmdvars[inner])
                    else:
                        out.append("${MK}")
                    i = j
                elif s.startswith("$", i) and i + 1 < len(s):
                    out.append("${MK}")
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            return "".join(out)

        lines = text.split("\n")
        goal = None
        n = 0
        while n < len(lines):
            l = lines[n]
            start = n + 1
            if l.startswith("\t") and goal is not None:
                body = l[1:]
                while body.endswith("\\") and n + 1 < len(lines):
                    n += 1
                    body += "\n" + lines[n][1:] if lines[n].startswith(
                        "\t") else "\n" + lines[n]
                body = body.lstrip("@-+ ")
                self.goal_of["Makefile:" + str(start)] = {goal}
                Shell(self, "Makefile:" + str(start)).text(expand(body), start)
            else:
                for m in re.finditer(r"\$\(shell ", l):
                    j = Shell.match_paren(l, m.start() + 1)
                    key = "Makefile:" + str(start)
                    self.goal_of[key] = {"build"}
                    Shell(self, key).text(expand(l[m.start() + 8:j - 1]),
                                          start)
                m = re.match(r"^([^\s#:=.][^:=]*):(?!=)", l)
                if m:
                    t = m.group(1).split()[0]
                    goal = self.MAKE_GOAL.get(t, "build")
                elif l.strip() and not l.startswith("#"):
                    goal = None
            n += 1

    def used_goals(self, name):
        gs = set()
        for p, _ in self.uses[name]:
            gs |= self.goal_of.get(p, set())
        return gs


def where(uses, limit=3):
    locs = sorted(uses, key=lambda u: (u[0], u[1]))
    s = ", ".join(p if p.startswith("Makefile:") else "%s:%d" % (p, n)
                  for p, n in locs[:limit])
    return s + (" (+%d more)" % (len(locs) - limit) if len(locs) > limit else "")


def read_tsv(errors):
    rows = []
    with open(os.path.join(ROOT, TSV), encoding="utf-8") as f:
        for n, l in enumerate(f, 1):
            l = l.rstrip("\n")
            if not l or l.startswith("#"):
                continue
            fields = l.split("\t")
            if len(fields) != 3 or not all(fields):
                errors.append("%s:%d: want 3 tab-separated fields "
                              "(command, package, used by): %r" % (TSV, n, l))
                continue
            used = fields[2].split(",")
            bad = [u for u in used if u not in GOALS]
            if bad:
                errors.append("%s:%d: unknown goal(s) %s in used-by (one of %s)"
                              % (TSV, n, ",".join(bad), ",".join(GOALS)))
            rows.append((n, fields[0], fields[1], set(used)))
    return rows


def goal_list(gs):
    return ",".join(g for g in GOALS if g in gs)


def check_declared(sc, rows, errors):
    declared = {}
    for n, cmd, pkg, used in rows:
        if cmd == "-":
            continue
        if cmd in declared:
            errors.append("%s:%d: %s declared twice" % (TSV, n, cmd))
        declared[cmd] = (n, pkg, used)
    for name in sorted(sc.uses):
        if name not in declared:
            errors.append("undeclared: %s (used in %s): add a row to %s"
                          % (name, where(sc.uses[name]), TSV))
    for cmd, (n, pkg, used) in sorted(declared.items()):
        if cmd not in sc.uses:
            errors.append("%s:%d: %s is declared but nothing runs it "
                          "(stale row, or use \"-\" for a package that is "
                          "needed without being run)" % (TSV, n, cmd))
            continue
        want = sc.used_goals(cmd)
        if want != used:
            errors.append("%s:%d: %s: used-by should be %s (found in %s), "
                          "the row says %s" % (TSV, n, cmd, goal_list(want),
                                               where(sc.uses[cmd], 2),
                                               goal_list(used)))
    for path, line in sc.runs_args:
        spans = sc.func_spans.get(path, [])
        fn = [s[2] for s in spans if s[0] <= line <= s[1]]
        if fn and fn[-1] not in WRAPPER_FUNCS:
            errors.append("%s:%d: function %s runs its arguments as a "
                          "command: add it to WRAPPER_FUNCS in %s"
                          % (path, line, fn[-1], os.path.relpath(__file__, ROOT)))


# Scripts that run as tests: a command from a package that is not on every
# Debian system (priority "required") needs a need_cmd (tests/lib/need.sh),
# in the script or in a tests/lib file it sources, so that a missing tool is
# a SKIP that names it and `make deps`, not an obscure failure.
# python3 runs this check itself: without it `make check` fails here first.
NEED_EXEMPT = {"python3"}
TEST_SCRIPTS = re.compile(r"^tests/(integration/test_\w+|dp/dp_pair|lib/\w+)\.sh$")


def check_needs(sc, rows, errors):
    pkg_of = {cmd: pkg for _, cmd, pkg, _ in rows if cmd != "-"}
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Priority}\n"] +
                       sorted(set(pkg_of.values())), capture_output=True,
                       text=True)
    prio = dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l)
    used = defaultdict(lambda: defaultdict(list))
    for cmd, locs in sc.uses.items():
        for path, line in locs:
            used[path][cmd].append(line)
    for path in sorted(p for p in used if TEST_SCRIPTS.match(p)):
        covered = set(sc.needs[path])
        todo, seen = list(sc.sources[path]), set()
        while todo:
            lib = todo.pop()
            if lib not in seen:
                seen.add(lib)
                covered |= sc.needs[lib]
                todo.extend(sc.sources[lib])
        for cmd in sorted(used[path]):
            pkg = pkg_of.get(cmd)
            if pkg and prio.get(pkg) != "required" and \
                    cmd not in covered and cmd not in NEED_EXEMPT:
                errors.append("%s:%d: runs %s (package %s, not on every "
                              "Debian system) without `need_cmd %s`"
                              % (path, min(used[path][cmd]), cmd, pkg, cmd))


def make_out(*args):
    r = subprocess.run(["make", "-C", ROOT, "--no-print-directory"] +
                       list(args), capture_output=True, text=True)
    return r.returncode, r.stdout


def check_make(rows, errors):
    pkgs = {pkg for _, _, pkg, _ in rows}
    rc, out = make_out("-s", "print-deps")
    listed = set(out.split())
    if rc != 0:
        errors.append("make print-deps failed")
    for p in sorted(pkgs - listed):
        errors.append("%s is declared in %s but not in `make print-deps`"
                      % (p, TSV))
    for p in sorted(listed - pkgs):
        errors.append("`make print-deps` lists %s, which %s does not declare"
                      % (p, TSV))
    rc, out = make_out("-n", "deps")
    words = set(re.split(r"[\s;'\"]+", out))
    for p in sorted(pkgs - words):
        errors.append("%s is not in the package list of `make -n deps`" % p)


def usr_variants(path):
    out = [path]
    for a, b in (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"),
                 ("/usr/lib/", "/lib/")):
        if path.startswith(a):
            out.append(b + path[len(a):])
        elif path.startswith(b):
            out.append(a + path[len(b):])
    return out


def link_chain(path):
    chain, seen = [path], {path}
    while os.path.islink(path) and len(chain) < 10:
        nxt = os.path.join(os.path.dirname(path), os.readlink(path))
        path = os.path.normpath(nxt)
        if path in seen:
            break
        seen.add(path)
        chain.append(path)
    real = os.path.realpath(chain[0])
    if real not in seen:
        chain.append(real)
    return chain


def dpkg_owners(paths):
    r = subprocess.run(["dpkg", "-S"] + sorted(paths), capture_output=True,
                       text=True)
    owners = defaultdict(set)
    for l in r.stdout.splitlines():
        if l.startswith("diversion ") or ": " not in l:
            continue
        pk, path = l.split(": ", 1)
        for p in pk.split(","):
            owners[path.strip()].add(p.strip().split(":")[0])
    return owners


def check_owners(rows, errors):
    # Debian's own PATH: what a fresh machine runs (a pyenv or a
    # /usr/local build earlier in the user's PATH is not a package).
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    chains = {}
    for n, cmd, pkg, _ in rows:
        if cmd == "-":
            continue
        exe = shutil.which(cmd, path=path)
        if not exe:
            errors.append("%s (package %s) is not installed: run `make deps`"
                          % (cmd, pkg))
            continue
        chains[cmd] = [v for p in link_chain(exe) for v in usr_variants(p)]
    owners = dpkg_owners({p for c in chains.values() for p in c})
    for n, cmd, pkg, _ in rows:
        if cmd not in chains:
            continue
        got = set().union(*(owners.get(p, set()) for p in chains[cmd]))
        if pkg not in got:
            errors.append("%s:%d: %s (%s) comes from %s, not from %s"
                          % (TSV, n, cmd, chains[cmd][0],
                             ", ".join(sorted(got)) or "no Debian package",
                             pkg))
    only = sorted({pkg for _, cmd, pkg, _ in rows if cmd == "-"})
    if only:
        r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev} "
                            "${Package}\n"] + only, capture_output=True,
                           text=True)
        ok = {l.split()[1] for l in r.stdout.splitlines()
              if l.startswith("ii")}
        for p in only:
            if p not in ok:
                errors.append("package %s is not installed: run `make deps`"
                              % p)


def main():
    sc = Scanner()
    sc.scan()
    if sys.argv[1:] == ["--list"]:
        for name in sorted(sc.uses):
            print("%-24s %-28s %s" % (name, goal_list(sc.used_goals(name)),
                                      where(sc.uses[name], 2)))
        return 0
    errors = []
    rows = read_tsv(errors)
    check_declared(sc, rows, errors)
    check_needs(sc, rows, errors)
    check_make(rows, errors)
    check_owners(rows, errors)
    for e in errors:
        print("deps: " + e)
    ncmd = sum(1 for r in rows if r[1] != "-")
    print("deps: %d commands, %d packages declared in %s; %d found in the "
          "scripts; %d problem(s)" % (ncmd, len({r[2] for r in rows}), TSV,
                                      len(sc.uses), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
