"""Wiring: the dramatiq actors of each worker role and the runtime they share.

Actors only decode a message, call domain code (`admission`, `match`, `lifecycle`) and send the next
message; nothing under `papilla.services` other than this package imports dramatiq's actor machinery.
"""
