"""Encoders: networks mapping one modality to a shared representation."""
