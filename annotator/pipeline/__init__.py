"""The annotation pipeline's pure parts: configuration, prompts, reply validation, rate limits.

Nothing here imports the model stack (openai, torch): the task layer imports these modules at
module level and the adapters in annotator/adapters/ use them.
"""
