"""The toolkit's course, grouping, quiz and content blocks as Open edX XBlocks (group xblock.v1)."""
