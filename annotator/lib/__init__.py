"""Codecs and infrastructure with no database writes (as healthchecks' hc/lib): RLE masks, the
embedding cache. Anything here may be imported from annotator/ and review/ alike."""
