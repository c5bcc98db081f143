"""The reference runtime: learners take courses in a browser; learner state in SQL."""
