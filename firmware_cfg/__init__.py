"""The site as files: example site folders and templates for Pis and the broker."""
