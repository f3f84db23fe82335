"""A memorization metric for curbench: generated samples that copy a real instance."""
