"""The layers of user/ as docs/architecture.md writes them down: every
#include of a folder's files names only the folders its row allows, and the
layers form no cycle. No BPF, no process: it reads the sources."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
USER = ROOT / "user"
DOC = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(\w+)/` \|[^|]*\| (.*) \|\s*$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def allowed_layers():
    rules = {}
    for line in DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            rules[m.group(1)] = m.group(2)
    assert rules, "docs/architecture.md has no layer table"
    every = set(rules)
    return {name: (every - {name} if "every folder" in text else set(re.findall(r"`(\w+)/`", text)))
            for name, text in rules.items()}


def included_layers():
    """folder -> {included folder: [file including it]}"""
    found = {}
    for path in sorted(USER.rglob("*.[ch]")):
        folder = path.relative_to(USER).parts[0]
        for inc in INCLUDE.findall(path.read_text()):
            if "/" not in inc or inc.startswith(".."):
                continue  # include/ (shared with BPF), generated skeletons, the BPF walker
            layer = inc.split("/")[0]
            if layer != folder:
                found.setdefault(folder, {}).setdefault(layer, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_folder_is_a_documented_layer():
    folders = {p.name for p in USER.iterdir() if p.is_dir()}
    loose = sorted(str(p.relative_to(ROOT)) for p in USER.glob("*.[ch]"))
    assert not loose, f"files outside any layer: {loose}"
    assert folders == set(allowed_layers()), (sorted(folders), sorted(allowed_layers()))


def test_includes_follow_the_layer_table():
    rules = allowed_layers()
    wrong = [f"{f} includes {layer}/ ({folder}/ may include {sorted(rules.get(folder, ())) or 'nothing'})"
             for folder, layers in included_layers().items()
             for layer, files in layers.items() if layer not in rules.get(folder, set())
             for f in files]
    assert not wrong, "\n".join(wrong)


def test_layers_form_no_cycle():
    rules = allowed_layers()
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "cycle: " + " -> ".join(path + [node])
        state[node] = "open"
        for dep in sorted(rules[node]):
            visit(dep, path + [node])
        state[node] = "done"

    for name in sorted(rules):
        visit(name, [])
