"""The revisions of the prediction log's schema, one file each, in order."""
