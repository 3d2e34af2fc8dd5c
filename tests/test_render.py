"""Offline report build (pandoc + typst) on a tiny fake manuscript project, and what the build
does around `quarto render` (a stand-in for Quarto here: it is not installable on our machines)."""
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grokpaper.builder import render
from grokpaper.builder.freeze import freeze_inputs, inputs_fingerprint, invalidate_freeze
from grokpaper.builder.manuscript import RenderError
from grokpaper.builder.offline import pandoc_path
from grokpaper.paper import report
from reader_check import chromium_path, reader_check, screenshot

FIXTURE = Path(__file__).parent / "fixtures" / "render_project"
EXPECTED_FIGURES = 2   # fig-curve (01-demo), fig-bars (02-more)
pytestmark = pytest.mark.slow   # end-to-end report builds (pyproject marker)


def _png(kind: str) -> str:
    """A small matplotlib PNG, base64 encoded as notebooks store it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 2.5), dpi=60)
    if kind == "curve":
        ax.plot(range(10), [x ** 0.5 for x in range(10)])
    else:
        ax.bar(["a", "b", "c"], [3, 1, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _code_cell(source, outputs=(), tags=()):
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = list(outputs)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _figure_output(kind):
    return nbformat.v4.new_output("display_data", data={"image/png": _png(kind), "text/plain": "<Figure>"})


def make_project(dest: Path) -> Path:
    """Copy the fixture project and write its two executed chapter notebooks."""
    shutil.copytree(FIXTURE, dest)
    (dest / "chapters").mkdir()
    table = "| condition | epochs |\n|---|---:|\n| grokked | 1234 |\n| random | 5678 |"
    nb1 = nbformat.v4.new_notebook(metadata={"grokpaper": {"title": "Demo chapter", "profile": "smoke"},
                                             "papermill": {"parameters": {"profile": "smoke"}}})
    nb1.cells = [
        nbformat.v4.new_markdown_cell("# Demo chapter"),
        _code_cell('profile = "smoke"', tags=["parameters"]),
        _code_cell('profile = "smoke"  # injected', tags=["injected-parameters"]),
        _code_cell('#| label: fig-curve\n#| fig-cap: "Test accuracy rises long after training accuracy."\n'
                   "plot_curve()", [_figure_output("curve")]),
        _code_cell('#| label: tbl-summary\n#| tbl-cap: "Epochs to reach 95% test accuracy."\n'
                   "show_table()", [nbformat.v4.new_output("display_data", data={"text/markdown": table})]),
    ]
    nb2 = nbformat.v4.new_notebook(metadata={"grokpaper": {"title": "More results"}})
    nb2.cells = [_code_cell('#| label: fig-bars\n#| fig-cap: "A bar chart with $x^2$ in its caption."\n'
                            "bars()", [_figure_output("bars")])]
    nbformat.write(nb1, dest / "chapters" / "01-demo.ipynb")
    nbformat.write(nb2, dest / "chapters" / "02-more.ipynb")
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("render") / "project")
    outputs = render.build(project, offline=True, quiet=True)
    return project, outputs


def _html(built) -> str:
    return built[1]["html"].read_text(encoding="utf-8")


def _visible_text(page: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_outputs_where_quarto_puts_them(built):
    project, outputs = built
    out = project / "_manuscript"
    assert outputs["html"] == out / "index.html"
    assert outputs["pdf"] == out / "paper.pdf"
    assert (out / "chapters" / "01-demo-preview.html").is_file()
    assert (out / "chapters" / "01-demo.ipynb").is_file()
    frozen = project / "_freeze" / "paper" / "execute-results" / "html.json"
    assert frozen.is_file()


def test_html_is_self_contained(built):
    page = _html(built)
    srcs = re.findall(r'\bsrc="([^"]*)"', page)
    assert srcs, "expected embedded images"
    assert all(s.startswith("data:") for s in srcs), [s[:40] for s in srcs if not s.startswith("data:")]
    assert not re.search(r'<link[^>]+href="(?!data:)[^"]*\.css', page)


def test_references_numbered_and_resolved(built):
    text = _visible_text(_html(built))
    assert "??" not in text
    assert not re.search(r"@(fig|tbl|sec|eq)-", text)
    for phrase in ["Figure 1", "Figure 2", "Table 1", "Section 2", "Equation 1"]:
        assert phrase in text, phrase
    assert "Figure 1: Test accuracy rises long after training accuracy." in re.sub(r"\s+", " ", text)
    assert "Table 1: Epochs to reach 95% test accuracy." in re.sub(r"\s+", " ", text)
    assert "Source:" in text and "01-demo-preview.html#fig-curve" in _html(built)


def test_inline_expressions_asis_cells_and_citations(built):
    text = re.sub(r"\s+", " ", _visible_text(_html(built)))
    assert "took 1234 epochs" in text
    assert "98.7% accuracy" in text
    assert "The asis cell says: 2468 steps" in text
    assert "{python}" not in text
    assert re.search(r"Power et al\. \( ?2022 ?\)", text)            # @key: author-in-text
    assert "Nanda et al. 2023" in text                                  # [@key]
    assert "Progress Measures for Grokking" in text          # bibliography entry
    assert "Analytical Engine Lab" in text                    # affiliation in the title block


def test_notebook_view_hides_parameters(built):
    project, _ = built
    page = (project / "_manuscript" / "chapters" / "01-demo-preview.html").read_text(encoding="utf-8")
    assert "injected" not in page
    assert 'id="fig-curve"' in page


def test_freeze_is_reused_until_results_change(built, tmp_path):
    project = make_project(tmp_path / "p")
    render.build(project, formats=("html",), offline=True, quiet=True)
    frozen = project / "_freeze" / "paper" / "execute-results" / "html.json"
    record = frozen.read_text()
    assert '"hash"' in record and '"markdown"' in record
    stamp = frozen.stat().st_mtime_ns
    render.build(project, formats=("html",), offline=True, quiet=True)
    assert frozen.stat().st_mtime_ns == stamp                 # unchanged inputs: not re-executed
    (project / "results" / "01-demo.json").write_text('{"accuracy": 0.5, "epochs": 7}')
    render.build(project, formats=("html",), offline=True, quiet=True)
    text = (project / "_manuscript" / "index.html").read_text()
    assert "took 7 epochs" in re.sub(r"\s+", " ", _visible_text(text))


def test_freeze_inputs_cover_the_package_modules_the_article_imports(tmp_path):
    project = make_project(tmp_path / "p")
    qmd = project / "paper.qmd"
    assert freeze_inputs(project, qmd)["modules"] == {}  # the fixture's article imports json only
    qmd.write_text(qmd.read_text().replace("import json\n", "import json\nfrom grokpaper.paper.report import fmt\n"))
    modules = freeze_inputs(project, qmd)["modules"]
    report_py = Path(report.__file__)
    assert modules["grokpaper/paper/report.py"] == hashlib.sha256(report_py.read_bytes()).hexdigest()
    assert "grokpaper/analysis/stats.py" in modules  # imported by report.py: a changed sentence generator counts too


# `quarto render` with `freeze: auto` as Quarto documents it: the article executes unless its freeze
# record holds the hash of its source. Each call logs "executed" or "reused" beside this script.
FAKE_QUARTO = """#!{python}
import hashlib, json, pathlib, sys
source = pathlib.Path("paper.qmd").read_text(encoding="utf-8")
record = pathlib.Path("_freeze/paper/execute-results/html.json")
md5 = hashlib.md5(source.encode()).hexdigest()
reused = record.is_file() and json.loads(record.read_text()).get("hash") == md5
if not reused:
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({{"hash": md5, "result": {{"markdown": "executed"}}}}))
pathlib.Path("_manuscript").mkdir(exist_ok=True)
with open(pathlib.Path(sys.argv[0]).with_name("calls.log"), "a") as log:
    log.write(("reused" if reused else "executed") + "\\n")
"""


def test_quarto_render_executes_the_article_again_when_its_inputs_change(tmp_path, monkeypatch):
    project = make_project(tmp_path / "p")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "quarto").write_text(FAKE_QUARTO.format(python=sys.executable))
    (bin_dir / "quarto").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    calls = lambda: (bin_dir / "calls.log").read_text().split()  # noqa: E731
    frozen = project / "_freeze" / "paper" / "execute-results" / "html.json"

    assert render.build(project, quiet=True) == {"quarto": project / "_manuscript"}
    render.build(project, quiet=True)
    assert calls() == ["executed", "reused"]  # unchanged inputs: the frozen article is reused
    record = json.loads(frozen.read_text())
    assert record["grokpaper"]["inputs-sha256"] == inputs_fingerprint(project, project / "paper.qmd")
    (project / "results" / "01-demo.json").write_text('{"accuracy": 0.5, "epochs": 7}')
    assert invalidate_freeze(project) == frozen.parents[1]  # the decision: new results, stale record
    assert not frozen.parents[1].exists()
    render.build(project, quiet=True)
    (project / "results" / "01-demo.json").write_text('{"accuracy": 0.5, "epochs": 8}')
    render.build(project, quiet=True)  # render decides by itself too
    assert calls()[2:] == ["executed", "executed"]
    # a record Quarto wrote itself carries no inputs: executed once more, then reused
    frozen.write_text(json.dumps({"hash": record["hash"], "result": {}}))
    render.build(project, quiet=True)
    render.build(project, quiet=True)
    assert calls()[4:] == ["executed", "reused"]


def test_pdf_has_numbered_figure_captions(built):
    pdf = built[1]["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not installed (apt-get install poppler-utils): PDF text not checked")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = re.sub(r"\s+", " ", text)
    captions = set(re.findall(r"Figure (\d+):", text))
    assert captions == {str(i + 1) for i in range(EXPECTED_FIGURES)}
    assert "Table 1:" in text and "??" not in text and "@fig-" not in text
    assert "Progress Measures for Grokking" in text


def test_the_projects_subtitle_is_in_the_front_matter_of_both_formats(tmp_path):
    """`_quarto.yml` gives every document its metadata, as Quarto does (the paper's version is its
    subtitle); the article's own front matter wins."""
    project = make_project(tmp_path / "p")
    (project / "_quarto.yml").write_text((project / "_quarto.yml").read_text() + '\nsubtitle: "Version 9.9"\n')
    outputs = render.build(project, offline=True, quiet=True)
    assert '<p class="subtitle">Version 9.9</p>' in outputs["html"].read_text(encoding="utf-8")
    if shutil.which("pdftotext"):
        first_page = subprocess.run(["pdftotext", "-l", "1", str(outputs["pdf"]), "-"], capture_output=True,
                                    text=True, check=True).stdout
        assert "Version 9.9" in first_page
    qmd = project / "paper.qmd"
    qmd.write_text(qmd.read_text().replace("---\n", '---\nsubtitle: "Its own"\n', 1))
    page = render.build(project, formats=("html",), offline=True, quiet=True)["html"].read_text(encoding="utf-8")
    assert '<p class="subtitle">Its own</p>' in page and "Version 9.9" not in page


def test_bad_embed_label_is_a_clear_error(tmp_path):
    project = make_project(tmp_path / "p")
    qmd = project / "paper.qmd"
    qmd.write_text(qmd.read_text().replace("01-demo.ipynb#tbl-summary", "01-demo.ipynb#tbl-nope"))
    with pytest.raises(RenderError) as err:
        render.build(project, formats=("html",), offline=True, quiet=True)
    message = str(err.value)
    assert "tbl-nope" in message and "01-demo.ipynb" in message
    assert "fig-curve" in message and "tbl-summary" in message   # the labels that do exist


def test_missing_notebook_is_a_clear_error(tmp_path):
    project = make_project(tmp_path / "p")
    (project / "chapters" / "02-more.ipynb").unlink()
    with pytest.raises(RenderError, match=r"02-more\.ipynb.*not found"):
        render.build(project, formats=("html",), offline=True, quiet=True)


def test_unknown_reference_is_a_clear_error(tmp_path):
    project = make_project(tmp_path / "p")
    qmd = project / "paper.qmd"
    qmd.write_text(qmd.read_text().replace("see @fig-curve", "see @fig-missing"))
    with pytest.raises(RenderError, match=r"@fig-missing.*@fig-curve"):
        render.build(project, formats=("html",), offline=True, quiet=True)


needs_chromium = pytest.mark.skipif(chromium_path() is None,
                                    reason="chromium not installed (apt-get install -y chromium)")


@needs_chromium
def test_reader_check_in_chromium(built, tmp_path):
    result = reader_check(built[1]["html"])
    assert result["images"] == EXPECTED_FIGURES
    assert result["images_loaded"] == EXPECTED_FIGURES
    assert result["unresolved_refs"] == []
    assert result["external_resources"] == []
    assert result["figures"] == EXPECTED_FIGURES and result["tables"] >= 1 and result["math"] >= 1
    assert not result["horizontal_overflow"]
    png = screenshot(built[1]["html"], tmp_path / "page.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


MINUS_FILTER = Path(__file__).parents[1] / "filters" / "typographic-minus.lua"


def test_minus_filter_turns_hyphens_of_negative_numbers_into_minus_signs(tmp_path):
    source = tmp_path / "in.md"
    source.write_text("CI -1.07 % to -0.2 %; t(2.48) = -11.7 (-3, [-.5]); epochs 0-100; "
                      "lr 1e-3; a `-1` in code; a -dirty commit.\n", encoding="utf-8")
    out = subprocess.run([pandoc_path(), str(source), "-t", "plain", f"--lua-filter={MINUS_FILTER}"],
                         capture_output=True, text=True, check=True).stdout
    m = "\u2212"
    assert f"CI {m}1.07 % to {m}0.2 %" in out and f"= {m}11.7 ({m}3, [{m}.5])" in out
    assert "0-100" in out and "1e-3" in out and "-1" in out and "-dirty" in out  # ranges, exponents, code, words


def test_project_filters_run_in_the_offline_build(tmp_path):
    project = make_project(tmp_path / "p")
    shutil.copy(MINUS_FILTER, project / "minus.lua")
    (project / "_quarto.yml").write_text((project / "_quarto.yml").read_text() + "\nfilters:\n  - minus.lua\n")
    qmd = project / "paper.qmd"
    qmd.write_text(qmd.read_text() + "\n\nThe gain was -0.64 points.\n")
    page = render.build(project, formats=("html",), offline=True, quiet=True)["html"].read_text(encoding="utf-8")
    assert "gain was \u22120.64 points" in page


@pytest.mark.parametrize("entry, match", [("nope.lua", r"'nope\.lua' not found"),
                                          ("spellcheck", r"'spellcheck' is not a Lua filter file")])
def test_bad_project_filter_is_a_clear_error(tmp_path, entry, match):
    project = make_project(tmp_path / "p")
    (project / "_quarto.yml").write_text((project / "_quarto.yml").read_text() + f"\nfilters:\n  - {entry}\n")
    with pytest.raises(RenderError, match=r"_quarto\.yml filters: " + match):
        render.build(project, formats=("html",), offline=True, quiet=True)


def test_a_leftover_temporary_notebook_is_no_chapter(tmp_path):
    # A killed `run` can leave the runner's ".<chapter>.*.tmp.ipynb" beside the chapters; Quarto's
    # glob skips dot files, and so does the offline build's.
    from grokpaper.builder.offline import discover_notebooks

    project = tmp_path / "p"
    (project / "chapters").mkdir(parents=True)
    for name in ("01-a.ipynb", ".01-a.x1y2.tmp.ipynb"):
        (project / "chapters" / name).write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    found = discover_notebooks(project, {"notebooks": [], "render": ["paper.qmd", "chapters/*.ipynb"]})
    assert [entry["notebook"] for entry in found] == ["chapters/01-a.ipynb"]


def test_an_apostrophe_after_a_digit_is_no_prime_in_the_pdf():
    from grokpaper.builder.offline import apostrophes_after_digits

    assert apostrophes_after_digits("seed 42's jump, chapter 06's test") == "seed 42\u2019s jump, chapter 06\u2019s test"
    assert apostrophes_after_digits("the 5' end, it's") == "the 5' end, it's"   # no letter after, or no digit before
