"""The article's prose holds no hand-typed results: every number outside code, math and
inline expressions is one of a short list of facts of the method, each with its reason."""

import ast
import re
from pathlib import Path

PAPER = Path(__file__).resolve().parents[1] / "paper.qmd"

# Numbers the prose may state as typed text: definitions and facts of the original setup,
# never results. A new number in the prose fails this test: compute it, or add it here with why.
ALLOWED = {
    "0", "1", "2", "3", "4",  # list markers (1)-(4), b = 0, p + 1, 1/p, t(3) quoted from the document
    "95",                # the confidence level of every interval
    "100",               # "100 % accuracy" (the grokking criterion) and "epoch 100" (fixed by the protocol)
    "99.9",              # the document's headline threshold, quoted with its claim
    "0.1",               # the original study's weight decay (a fact of its code)
    "2,000",             # the original study's fixed epochs for its memorized model
    "0.9", "0.98", "10",  # AdamW betas and the warm-up length of the original code
    "06", "08", "12", "13", "14", "15", "16",  # chapter names: "chapter 06", "chapter 08", ..., "chapter 16"
    "42",                # the original run's seed whose largest single-epoch jumps the document quotes
}


def prose(text: str) -> str:
    """paper.qmd without front matter, code cells, inline code, math, shortcodes and labels."""
    text = text.split("\n---\n", 1)[1]
    for pattern in (r"```\{python\}.*?```", r"`\{python\}[^`]*`", r"\$\$.*?\$\$", r"\$[^$]*\$",
                    r"\{\{<.*?>\}\}", r"\{#[^}]*\}", r"@[\w:-]+"):
        text = re.sub(pattern, "", text, flags=re.S)
    return text


def abstract(text: str) -> str:
    """The words of the abstract: the literal parts of the f-strings of paper.qmd's cell labelled
    `abstract` (it writes the abstract as a metadata block; its values are the braces)."""
    cell = re.search(r"```\{python\}\n#\| label: abstract\n(.*?)```", text, flags=re.S).group(1)
    return "".join(part.value for node in ast.walk(ast.parse(cell)) if isinstance(node, ast.JoinedStr)
                   for part in node.values if isinstance(part, ast.Constant))


def numbers(text: str) -> set[str]:
    return {n.rstrip(",") for n in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text)}


def test_the_prose_states_no_number_that_is_not_computed():
    typed = numbers(prose(PAPER.read_text())) - ALLOWED
    assert not typed, f"numbers typed into paper.qmd's prose (compute them inline): {sorted(typed)}"


def test_the_abstract_states_no_number_that_is_not_computed():
    words = abstract(PAPER.read_text())
    assert "A design document reported" in words and "Fourier" in words
    typed = numbers(words) - ALLOWED
    assert not typed, f"numbers typed into the abstract (compute them in braces): {sorted(typed)}"


def test_the_check_catches_a_typed_result():
    text = "---\ntitle: x\n---\nGrokked runs were 11.02x faster (`{python} fmt(x)` epochs) than random.\n"
    assert numbers(prose(text)) == {"11.02"}
    cell = '```{python}\n#| label: abstract\nx = f"sooner by {ratio}, in 7 of {n} runs"\n```\n'
    assert numbers(abstract(cell)) == {"7"}


def test_no_line_opens_with_a_parenthesised_reference():
    """Pandoc reads '(@label)' opening a line and followed by a space as an example-list marker:
    where a guard adds text after it (any build but the paper's), the reference became '(1)'."""
    opening = [n for n, line in enumerate(PAPER.read_text().splitlines(), 1) if re.match(r"\s*\(@", line)]
    assert opening == [], f"paper.qmd lines {opening} open with '(@': move the reference into the line before"
