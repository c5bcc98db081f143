"""Results that count: Thai dates and evaluation rounds, certificates, registration posters and HR reports.

Nothing here imports the runtime: the runtime writes ``course_results`` rows (:mod:`.schema`) and calls these
functions to render certificates, verify them and report per evaluation round.
"""
