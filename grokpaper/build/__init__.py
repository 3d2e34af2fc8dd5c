"""The paper's build: the chapter runner and the report build."""
