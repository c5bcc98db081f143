"""Flashcards: an XBlock (block type `flashcards`)."""

from .block import FlashcardsBlock

__all__ = ["FlashcardsBlock"]
