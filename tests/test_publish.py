"""Publishing: the GitHub Pages workflow builds the report with the command the README gives and
CI runs (`make report`), and deploys what it builds (`_manuscript/`). The workflow cannot run
here; these checks read it."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"
BUILD = "make report"


def _workflow() -> dict:
    flow = yaml.safe_load(WORKFLOW.read_text())
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    return flow


def _commands(script: str) -> list[str]:
    """The command lines of a shell script, comments and blank lines left out."""
    return [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_workflow_builds_with_the_readmes_command_and_ci_runs_the_same():
    steps = [step for job in _workflow()["jobs"].values() for step in job["steps"]]
    runs = [command for step in steps if "run" in step for command in _commands(step["run"])]
    assert runs == [BUILD]  # nothing else: no training, no chapter, no other build
    readme_setup = re.search(r"## Set-up: two commands\n.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[1]
    assert BUILD in [line.split("#")[0].strip() for line in readme_setup.splitlines()]
    assert BUILD in _commands((ROOT / ".ci" / "run").read_text())
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^report: .*\n\t\$\(PY\) -m grokpaper render\n", makefile, re.M)  # the build check, then the build


def test_the_workflow_deploys_what_the_build_wrote_to_github_pages():
    flow = _workflow()
    assert {"push", "workflow_dispatch"} <= set(flow["on"]) and "main" in flow["on"]["push"]["branches"]
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = flow["jobs"]["build"]["steps"], flow["jobs"]["deploy"]["steps"]
    upload = next(step for step in build if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_manuscript" and build.index(upload) > next(
        i for i, step in enumerate(build) if step.get("run") == BUILD)
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in deploy)
    assert flow["jobs"]["deploy"]["needs"] == "build" and flow["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_the_readme_tells_quarto_users_how_to_publish():
    readme = (ROOT / "README.md").read_text()
    assert "quarto publish gh-pages" in readme and "_freeze/" in readme and ".github/workflows/publish.yml" in readme
