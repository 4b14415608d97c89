"""The library the numbered steps stand on. No module here prints; scripts do."""
