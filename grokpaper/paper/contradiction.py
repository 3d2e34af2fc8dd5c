"""The exception a guard raises when the data contradict a sentence of the article (``guard``,
``task_guards``): its message quotes the sentence, gives the numbers and what the sentence needs."""


class SentenceContradicted(Exception):
    """The data contradict a sentence of the article; the message quotes it and gives the numbers."""


def contradicted(sentence: str, numbers: str, needed: str):
    raise SentenceContradicted(f"'{sentence}': {numbers} (the sentence needs {needed})")
