"""Text tasks: the couplet writer (:mod:`lit_gen.tasks.couplet`) and lexicon discovery
(:mod:`lit_gen.tasks.lexicon`)."""
